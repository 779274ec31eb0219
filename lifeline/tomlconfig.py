"""Small validators that turn TOML tables into clean values or errors a technician can act on.

Every error reads ``file: key: problem``, where ``key`` is the dotted path to the
key (``sensors[2].baudrate``, or ``sensors['manhole-methane'].baudrate`` for an array of
tables labelled by an id key, see ``Section.sections``). Unknown keys are errors with a
suggestion. A ``Section`` records which keys were read so ``finish()`` can reject the rest.
``raise_if_problems(..., lines=True)`` adds the line where the key (or its table) is
written: ``file:LINE: key: problem``. tomllib gives lines only for syntax errors, so
``key_lines`` finds them with a small scan of the file's headers and ``key =`` lines.
"""

from __future__ import annotations

import builtins
import difflib
import math
import re
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

from lifeline.errors import LifelineError

T = TypeVar("T")
_REQUIRED: Any = object()


class ConfigError(LifelineError):
    """One or more problems in a configuration file; ``str()`` gives one line per problem."""

    def __init__(self, problems: Sequence[tuple[str, str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"{f}: {k}: {p}" for f, k, p in self.problems))


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; a missing file or a syntax error is a ConfigError naming the file."""
    file = str(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError([(file, "(file)", "the file does not exist")]) from exc
    except IsADirectoryError as exc:
        raise ConfigError([(file, "(file)", "is a directory, expected a TOML file")]) from exc
    except PermissionError as exc:
        raise ConfigError([(file, "(file)", "cannot be read: permission denied")]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([(file, "(syntax)", f"not valid TOML: {exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([(file, "(syntax)", "not valid UTF-8 text")]) from exc


class Section:
    """A view on one TOML table that validates keys as they are read and collects problems."""

    def __init__(
        self,
        file: builtins.str,
        path: builtins.str,
        data: Any,
        problems: list[tuple[builtins.str, builtins.str, builtins.str]],
        aliases: dict[builtins.str, builtins.str] | None = None,
    ):
        self.file = file
        self.path = path
        self.problems = problems
        # label -> index path of tables named by id (sensors['x'] -> sensors[0]), shared by
        # every Section of one file so raise_if_problems can find their lines
        self.aliases: dict[builtins.str, builtins.str] = {} if aliases is None else aliases
        if not isinstance(data, dict):
            self._problem("", f"must be a table, found {_kind(data)}")
            data = {}
        self.data: dict[str, Any] = data
        self.read: set[str] = set()

    # -- reporting -------------------------------------------------------
    def key_path(self, key: builtins.str) -> builtins.str:
        if not key:
            return self.path or "(top level)"
        return f"{self.path}.{key}" if self.path else key

    def _problem(self, key: builtins.str, problem: builtins.str) -> None:
        self.problems.append((self.file, self.key_path(key), problem))

    def problem(self, key: builtins.str, problem: builtins.str) -> None:
        """Record a problem found by a check outside this class (cross-key rules)."""
        self._problem(key, problem)

    # -- typed getters ---------------------------------------------------
    # Each returns the value's own type: with a ``default`` of type T, ``X | T``; without
    # one (a required key), ``X | None``, None when the key is missing or mistyped (the
    # problem is recorded, so raise_if_problems() refuses the file). mypy --strict checks
    # every read against where it goes.
    def _raw(self, key: builtins.str, default: Any) -> Any:
        self.read.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                self._problem(key, "is required but missing")
            return _REQUIRED
        return self.data[key]

    @overload
    def str(self, key: builtins.str, *, choices: Sequence[builtins.str] | None = None,
            check: Callable[[builtins.str], builtins.str | None] | None = None) -> builtins.str | None: ...

    @overload
    def str(self, key: builtins.str, default: T, *, choices: Sequence[builtins.str] | None = None,
            check: Callable[[builtins.str], builtins.str | None] | None = None) -> builtins.str | T: ...

    def str(
        self,
        key: builtins.str,
        default: Any = _REQUIRED,
        *,
        choices: Sequence[builtins.str] | None = None,
        check: Callable[[builtins.str], builtins.str | None] | None = None,
    ) -> Any:
        value = self._raw(key, default)
        if value is _REQUIRED:
            return None if default is _REQUIRED else default
        if not isinstance(value, builtins.str):
            self._problem(key, f"expected a string, found {_kind(value)}")
            return None if default is _REQUIRED else default
        if choices is not None and value not in choices:
            hint = _suggest(value, choices)
            self._problem(key, f"{value!r} is not one of {', '.join(choices)}{hint}")
        elif check is not None and (complaint := check(value)) is not None:
            self._problem(key, complaint)
        return value

    @overload
    def int(self, key: builtins.str, *, min: builtins.int | None = None,
            max: builtins.int | None = None) -> builtins.int | None: ...

    @overload
    def int(self, key: builtins.str, default: T, *, min: builtins.int | None = None,
            max: builtins.int | None = None) -> builtins.int | T: ...

    def int(
        self,
        key: builtins.str,
        default: Any = _REQUIRED,
        *,
        min: builtins.int | None = None,
        max: builtins.int | None = None,
    ) -> Any:
        value = self._raw(key, default)
        if value is _REQUIRED:
            return None if default is _REQUIRED else default
        if isinstance(value, builtins.bool) or not isinstance(value, builtins.int):
            self._problem(key, f"expected an integer, found {_kind(value)}")
            return None if default is _REQUIRED else default
        self._range(key, value, min, max)
        return value

    @overload
    def float(self, key: builtins.str, *, min: builtins.float | None = None,
              max: builtins.float | None = None) -> builtins.float | None: ...

    @overload
    def float(self, key: builtins.str, default: T, *, min: builtins.float | None = None,
              max: builtins.float | None = None) -> builtins.float | T: ...

    def float(
        self,
        key: builtins.str,
        default: Any = _REQUIRED,
        *,
        min: builtins.float | None = None,
        max: builtins.float | None = None,
    ) -> Any:
        value = self._raw(key, default)
        if value is _REQUIRED:
            return None if default is _REQUIRED else default
        if isinstance(value, builtins.bool) or not isinstance(value, builtins.int | builtins.float):
            self._problem(key, f"expected a number, found {_kind(value)}")
            return None if default is _REQUIRED else default
        if not math.isfinite(value):
            self._problem(key, "expected a finite number")
            return None if default is _REQUIRED else default
        self._range(key, value, min, max)
        return float(value)

    @overload
    def bool(self, key: builtins.str) -> builtins.bool | None: ...

    @overload
    def bool(self, key: builtins.str, default: T) -> builtins.bool | T: ...

    def bool(self, key: builtins.str, default: Any = _REQUIRED) -> Any:
        value = self._raw(key, default)
        if value is _REQUIRED:
            return None if default is _REQUIRED else default
        if not isinstance(value, builtins.bool):
            self._problem(key, f"expected true or false, found {_kind(value)}")
            return None if default is _REQUIRED else default
        return value

    @overload
    def str_list(self, key: builtins.str, *,
                 min_len: builtins.int = 0) -> tuple[builtins.str, ...] | None: ...

    @overload
    def str_list(self, key: builtins.str, default: T, *,
                 min_len: builtins.int = 0) -> tuple[builtins.str, ...] | T: ...

    def str_list(
        self, key: builtins.str, default: Any = _REQUIRED, *, min_len: builtins.int = 0
    ) -> Any:
        value = self._raw(key, default)
        if value is _REQUIRED:
            return None if default is _REQUIRED else default
        if not isinstance(value, list) or any(not isinstance(v, builtins.str) for v in value):
            self._problem(key, f"expected an array of strings, found {_kind(value)}")
            return None if default is _REQUIRED else default
        if len(value) < min_len:
            self._problem(key, f"expected at least {min_len} entr{'y' if min_len == 1 else 'ies'}")
        return tuple(value)

    def section(self, key: builtins.str, *, required: builtins.bool = True) -> Section:
        value = self._raw(key, _REQUIRED if required else {})
        return Section(self.file, self.key_path(key), {} if value is _REQUIRED else value,
                       self.problems, self.aliases)

    def sections(self, key: builtins.str, *, required: builtins.bool = False,
                 label_by: builtins.str | None = None) -> list[Section]:
        """The tables of an array of tables, each named ``key[i]``; with ``label_by``, a
        table whose ``label_by`` key is a string no other table repeats is named by it
        instead: ``sensors['manhole-methane']`` (a technician knows the id, not the index)."""
        value = self._raw(key, _REQUIRED if required else [])
        if value is _REQUIRED:
            return []
        if not isinstance(value, list):
            self._problem(key, f"expected an array of tables ([[{key}]]), found {_kind(value)}")
            return []
        labels = [item.get(label_by) if label_by and isinstance(item, dict) else None
                  for item in value]
        out = []
        for i, item in enumerate(value):
            path = f"{self.key_path(key)}[{i}]"
            label = labels[i]
            if isinstance(label, builtins.str) and label and labels.count(label) == 1:
                named = f"{self.key_path(key)}[{label!r}]"
                self.aliases[named] = path
                path = named
            out.append(Section(self.file, path, item, self.problems, self.aliases))
        return out

    def _range(
        self,
        key: builtins.str,
        value: builtins.float,
        low: builtins.float | None,
        high: builtins.float | None,
    ) -> None:
        if low is not None and value < low:
            self._problem(key, f"{value} is below the minimum {low}")
        if high is not None and value > high:
            self._problem(key, f"{value} is above the maximum {high}")

    def finish(self) -> None:
        """Reject keys nobody read, suggesting the closest valid one."""
        for key in self.data:
            if key not in self.read:
                hint = _suggest(key, sorted(self.read))
                where = self.path or "the top level"
                self._problem(key, f"is not a valid option for [{where}]{hint}")


def _suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def root(file: str | Path) -> Section:
    """Load ``file`` and return its top-level Section with a fresh problem list."""
    data = load_toml(file)
    return Section(str(file), "", data, [])


def raise_if_problems(section: Section, *, lines: bool = False) -> None:
    """Raise the problems found; with ``lines``, each names the line of its key where the
    file has it (``file:LINE: key: problem``)."""
    if not section.problems:
        return
    if lines:
        raise ConfigError(with_lines(section.problems, section.aliases))
    raise ConfigError(section.problems)


# -- where a key is written ------------------------------------------------------------------
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
                  r"""(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")


def _parts(dotted: str) -> list[str]:
    return [p[1:-1] if p[0] in "\"'" else p for p in _PART.findall(dotted)]


def _brackets(text: str) -> int:
    """Open minus closed brackets of a value, outside strings and comments."""
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#":
            break
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
    return depth


def key_lines(text: str) -> dict[str, int]:
    """The 1-based line of every table and key of a TOML text, by index path.

    >>> lines = key_lines('a = 1\\n[[s]]\\nid = "x"\\n[s.c]\\nhigh = 2\\n[[s]]\\nid = "y"\\n')
    >>> lines["a"], lines["s[0]"], lines["s[0].c.high"], lines["s[1].id"]
    (1, 2, 5, 7)

    A scan, not a parser: it follows table headers and ``key =`` lines, and skips the
    inside of multi-line strings and arrays; a key inside an inline table or an array is
    found at the line of the key that holds it.
    """
    found: dict[str, int] = {}
    arrays: dict[str, int] = {}   # resolved path of an array of tables -> its last index
    table = ""
    quote: str | None = None      # inside a multi-line string ending with this mark
    depth = 0                     # inside a multi-line array
    for number, line in enumerate(text.splitlines(), start=1):
        if quote is not None:
            if line.count(quote) % 2 == 1:
                quote = None
            continue
        if depth > 0:
            depth += _brackets(line)
            continue
        key = _KEY.match(line)
        header = None if key else _HEADER.match(line)
        if header:
            parts = _parts(header.group(2))
            path = ""
            for part in parts[:-1]:
                path = f"{path}.{part}" if path else part
                if path in arrays:
                    path = f"{path}[{arrays[path]}]"
            path = f"{path}.{parts[-1]}" if path else parts[-1]
            if header.group(1) == "[[":
                arrays[path] = arrays.get(path, -1) + 1
                found.setdefault(path, number)
                path = f"{path}[{arrays[path]}]"
            table = path
            found.setdefault(table, number)
        elif key:
            path = table
            for part in _parts(key.group(1)):
                path = f"{path}.{part}" if path else part
                found.setdefault(path, number)
            rest = line[key.end():]
            for mark in ('"""', "\'\'\'"):
                if rest.count(mark) % 2 == 1:
                    quote = mark
            if quote is None:
                depth = max(0, _brackets(rest))
    return found


_LAST = re.compile(r"(\.[^.\[]+|\[[^\]]*\])$")


def line_of(key: str, lines: dict[str, int], aliases: dict[str, str]) -> int | None:
    """The line of ``key`` or of the nearest enclosing key or table that is written."""
    for label in sorted(aliases, key=len, reverse=True):
        if key == label or key.startswith((label + ".", label + "[")):
            key = aliases[label] + key[len(label):]
            break
    while key:
        if key in lines:
            return lines[key]
        shorter = _LAST.sub("", key)
        if shorter == key:
            return None
        key = shorter
    return None


def with_lines(problems: Sequence[tuple[str, str, str]],
               aliases: dict[str, str]) -> list[tuple[str, str, str]]:
    """``(file, key, problem)`` with ``file:LINE`` where the file names the key's line."""
    texts: dict[str, dict[str, int] | None] = {}
    out = []
    for file, key, problem in problems:
        if file not in texts:
            try:
                texts[file] = key_lines(Path(file).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                texts[file] = None
        lines = texts[file]
        number = line_of(key, lines, aliases) if lines is not None else None
        out.append((f"{file}:{number}" if number is not None else file, key, problem))
    return out


def suggestion(word: str, options: Sequence[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``options``, or ``""`` (for checks made
    outside a Section's getters)."""
    return _suggest(word, options)


def config_path(text: str, base: Path) -> Path:
    """A path a config file names: ``~`` expanded, a relative one taken from ``base`` (the
    config file's directory), so a config and the files it names travel together."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path
