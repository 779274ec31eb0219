"""The operator's desk: incident commands, ``tail``, rendering, provisioning of devices."""
