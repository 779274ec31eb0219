"""The web board: live incidents, a zone map and operators' actions in a browser.

``lifeline-hub board`` serves it (hub/board/commands.py); hub/board/server.py is the
HTTP side, hub/board/app.py what a request does, hub/board/view.py and svg.py the
pure parts, static/ the page, stylesheet and script (no build step, no CDN).
"""
