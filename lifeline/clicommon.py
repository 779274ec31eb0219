"""What ``lifeline-hub`` and ``lifeline-edge`` share on the command line.

* ``--config`` and ``--log-level`` are accepted before the subcommand and after it (and
  after a sub-action: ``incidents show 3 --config ...``), one spelling everywhere;
  without ``--config`` a command reads ``$LIFELINE_HUB_CONFIG`` / ``$LIFELINE_EDGE_CONFIG``,
  else ``/etc/lifeline/hub.toml`` / ``/etc/lifeline/edge.toml``.
* ``--version``.
* ``completion bash``: a bash completion script generated from the parser itself, so it
  never falls behind the commands.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["LOG_LEVELS", "ConfigDefault", "VersionAction", "bash_completion", "command_word",
           "normalise_common", "version"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def version() -> str:
    """The installed distribution's version (``pip install`` of the source tree)."""
    from importlib import metadata

    try:
        return metadata.version("lifeline")
    except metadata.PackageNotFoundError:  # run from a checkout without installing
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """``--version``: looked up only when asked for (importlib.metadata costs start-up)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


class ConfigDefault:
    """Where a command's configuration is when ``--config`` is not given."""

    def __init__(self, variable: str, path: str) -> None:
        self.variable = variable
        self.path = Path(path)

    def resolve(self, args: argparse.Namespace, environ: Mapping[str, str]
                ) -> tuple[Path, str]:
        """(path, how it was chosen): ``--config`` (or the command's positional FILE), else
        the variable, else the default."""
        given = getattr(args, "config", None) or getattr(args, "config_positional", None)
        if given is not None:
            return given, "--config"
        from_env = environ.get(self.variable, "").strip()
        if from_env:
            return Path(from_env), f"${self.variable}"
        return self.path, "the default"

    def help(self, what: str) -> str:
        return f"path to {what} (default: ${self.variable}, else {self.path})"


def add_top_level(parser: argparse.ArgumentParser, config: ConfigDefault, what: str) -> None:
    """``--config``, ``--log-level`` and ``--version`` before the subcommand."""
    parser.add_argument("--version", action=VersionAction, help="print the version and exit")
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                        help=config.help(what))
    parser.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
                        help="how much to log on stderr (default: the command's)")


def normalise_common(parser: argparse.ArgumentParser, config: ConfigDefault | None,
                     what: str) -> None:
    """Make ``--config`` and ``--log-level`` optional and without a default in
    ``parser`` (a subcommand's, or a sub-action's), adding them where missing, so a value
    given anywhere on the line survives and a missing one is filled in by ``main``.
    ``config`` None: the command takes no configuration (only ``--log-level``)."""
    by_dest = {a.dest: a for a in parser._actions}
    if config is not None:
        found = by_dest.get("config")
        if found is None:
            parser.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                                metavar="FILE", help=config.help(what))
        elif found.option_strings:
            found.required = False
            found.default = argparse.SUPPRESS
            found.help = config.help(what)
        else:  # a positional (edge check-config FILE): optional now, --config spells it too
            found.nargs = "?"
            found.default = None  # (argparse would turn a SUPPRESS default into a Path)
            found.dest = "config_positional"
            parser.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                                metavar="FILE", help=config.help(what))
    found = by_dest.get("log_level")
    if found is None:
        parser.add_argument("--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS)
    else:
        found.default = argparse.SUPPRESS


def command_word(argv: Sequence[str], commands: Iterable[str]) -> str | None:
    """The subcommand of ``argv``: its first word that is not an option or the value of
    ``--config``/``--log-level`` given before it."""
    names = set(commands)
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in ("--config", "--log-level"):
            skip = True
        elif not word.startswith("-"):
            return word if word in names else None
    return None


# -- bash completion ------------------------------------------------------------------
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({o for a in parser._actions for o in a.option_strings if o.startswith("--")})


def _values(parsers: Iterable[argparse.ArgumentParser]) -> tuple[dict[str, list[str]],
                                                                    set[str], set[str]]:
    """Options with a fixed set of values, options naming a file, every option that takes
    a value."""
    choices: dict[str, list[str]] = {}
    files: set[str] = set()
    takes: set[str] = set()
    for parser in parsers:
        for action in parser._actions:
            longs = [o for o in action.option_strings if o.startswith("--")]
            if not longs or action.nargs == 0:
                continue
            takes.update(longs)
            if action.choices is not None:
                for option in longs:
                    choices[option] = [str(c) for c in action.choices]
            elif action.type is Path:
                files.update(longs)
    return choices, files, takes


def _words(words: Iterable[str]) -> str:
    return shlex.quote(" ".join(words))


def bash_completion(prog: str, parser: argparse.ArgumentParser,
                    values: dict[str, Sequence[str]] | None = None) -> str:
    """A bash completion script for ``parser`` (the full one, every subcommand built):
    subcommands, their sub-actions, long options, option values with a fixed set (and
    ``values``: options checked after parsing, such as ``--hazard``), and file names for
    paths."""
    function = "_" + prog.replace("-", "_")
    commands = _subparsers(parser)
    every = [parser, *commands.values()]
    every += [p for c in commands.values() for p in _subparsers(c).values()]
    choices, files, takes = _values(every)
    choices.update({option: list(words) for option, words in (values or {}).items()})
    lines = [
        f"# bash completion for {prog}; generated by `{prog} completion bash`.",
        f"# Install: {prog} completion bash | sudo tee /etc/bash_completion.d/{prog}",
        f"{function}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        "    local command='' action='' word i skip=0",
        '    case "$prev" in',
    ]
    for option in sorted(choices):
        lines.append(f"        {option}) COMPREPLY=($(compgen -W {_words(choices[option])}"
                     ' -- "$cur")); return 0 ;;')
    if files:
        lines.append(f"        {'|'.join(sorted(files))}) "
                     'COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;')
    rest = sorted(takes - files - set(choices))
    if rest:
        lines.append(f"        {'|'.join(rest)}) return 0 ;;")
    lines += [
        "    esac",
        '    for ((i = 1; i < COMP_CWORD; i++)); do',
        '        word="${COMP_WORDS[i]}"',
        '        if ((skip)); then skip=0; continue; fi',
        '        case "$word" in',
        f"            {'|'.join(sorted(takes))}) skip=1 ;;",
        "            -*) ;;",
        '            *) if [[ -z $command ]]; then command=$word; '
        'elif [[ -z $action ]]; then action=$word; fi ;;',
        "        esac",
        "    done",
        "    local offer",
        '    case "$command" in',
        f"        '') offer={_words([*commands, *_options(parser)])} ;;",
    ]
    for name, sub in commands.items():
        actions = _subparsers(sub)
        if not actions:
            lines.append(f"        {name}) offer={_words(_options(sub))} ;;")
            continue
        lines.append(f'        {name}) case "$action" in')
        for action, child in actions.items():
            lines.append(f"            {action}) offer={_words(_options(child))} ;;")
        lines.append(f"            *) offer={_words([*actions, *_options(sub)])} ;;")
        lines.append("        esac ;;")
    lines += [
        "    esac",
        '    COMPREPLY=($(compgen -W "$offer" -- "$cur"))',
        "}",
        f"complete -o default -F {function} {prog}",
        "",
    ]
    return "\n".join(lines)
