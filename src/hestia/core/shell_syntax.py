"""Reading shell commands the way bash does, for the approval rules.

A practical subset of bash's grammar: quotes and escapes, `;` `&&` `||` `|` `&` and newlines,
subshells and `{ …; }`, `$(…)`, backticks, `<(…)`, here-documents and redirections, so
`r''m -rf x` reads as `rm -rf x`. Text that cannot be read safely raises `ParseError`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# Deeper nesting of `bash -c "eval '…'"` and the like is refused rather than followed.
MAX_DEPTH = 12


class ParseError(ValueError):
    """The command could not be read safely."""


@dataclass(slots=True)
class Word:
    """One word after quote removal; expansions are kept as written (`$HOME`, `$(…)`)."""

    text: str = ""
    quoted: bool = False
    # Holds a `$var`, `${…}`, `$(…)`, backticks or `<(…)`: its value is only known at run time.
    dynamic: bool = False
    leading_dynamic: bool = False
    subs: list[Script] = field(default_factory=list)
    started: bool = False

    def add(self, text: str, *, dynamic: bool = False, quoted: bool = False) -> None:
        if not self.started and (text or dynamic):
            self.leading_dynamic = dynamic
            self.started = True
        self.text += text
        self.dynamic |= dynamic
        self.quoted |= quoted


@dataclass(slots=True)
class Redirect:
    """`op` (`>`, `>>`, `<<`, `<<<`, …) and its target word; `body` for here-docs/strings."""

    op: str
    target: Word | None = None
    body: str | None = None
    delimiter: str = ""
    strip_tabs: bool = False


@dataclass(slots=True)
class Command:
    """A simple command: its words and redirections."""

    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


Pipeline = list[Command]
Script = list[Pipeline]

_METACHARS = set(" \t\n;&|()<>")
_REDIRECT_OPS = ("&>>", "&>", "<<<", "<<-", "<<", "<>", "<&", ">&", ">>", ">|", "<", ">")
OUTPUT_OPS = {"&>>", "&>", "<>", ">&", ">>", ">|", ">"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse(command: str, depth: int = 0) -> Script:
    """The pipelines of `command`; raises ParseError for unbalanced quotes and the like.

    `depth` counts the shells this text is nested in (`bash -c "…"`), up to MAX_DEPTH.
    """
    return _Parser(command, depth).script()


class _Parser:
    def __init__(self, text: str, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise ParseError("nested too deeply")
        self.s = text
        self.i = 0
        self.depth = depth
        self.heredocs: list[Redirect] = []

    def _peek(self, offset: int = 0) -> str:
        """The character `offset` ahead, or "" at the end."""
        j = self.i + offset
        return self.s[j] if j < len(self.s) else ""

    def script(self, closer: bool = False) -> Script:
        """Pipelines up to the end, or (with `closer`) up to the `)` that ends a `$(`."""
        script: Script = []
        pipeline: Pipeline = []
        command = Command()
        parens = 0

        def end_command() -> None:
            nonlocal command
            if command.words or command.redirects:
                pipeline.append(command)
            command = Command()

        def end_pipeline() -> None:
            nonlocal pipeline
            end_command()
            if pipeline:
                script.append(pipeline)
            pipeline = []

        while True:
            self._blanks()
            c = self._peek()
            if not c:
                if closer:
                    raise ParseError("unclosed $( or <(")
                end_pipeline()
                return script
            if c == "\n":
                self.i += 1
                end_pipeline()
                self._read_heredocs()
            elif c == "#":
                while self._peek() not in ("", "\n"):
                    self.i += 1
            elif c == ")":
                self.i += 1
                if closer and parens == 0:
                    end_pipeline()
                    return script
                parens = max(parens - 1, 0)
                end_pipeline()  # a subshell ends, or a `case` pattern
            elif c == "(":
                self.i += 1
                parens += 1
                end_pipeline()
            elif self.s.startswith("&>", self.i):
                command.redirects.append(self._redirect())
            elif c in ";&|":
                op = self._operator()
                if op in ("|", "|&"):
                    end_command()
                else:
                    end_pipeline()
            elif c in "<>" and self._peek(1) != "(":
                command.redirects.append(self._redirect())
            else:
                word = self._word()
                if word.text.isdigit() and not word.quoted and self._at_redirect():
                    command.redirects.append(self._redirect())  # `2>file`: the digits are an fd
                else:
                    command.words.append(word)

    def _at_redirect(self) -> bool:
        return self._peek() in ("<", ">") and self._peek(1) != "("

    def _blanks(self) -> None:
        """Skip spaces, tabs and line continuations."""
        while True:
            if self._peek() in (" ", "\t"):
                self.i += 1
            elif self.s.startswith("\\\n", self.i):
                self.i += 2
            else:
                return

    def _operator(self) -> str:
        """A control operator: `;`, `&`, `&&`, `|`, `||`, `|&`, `;;` …"""
        for op in (";;&", ";;", ";&", "&&", "||", "|&", ";", "&", "|"):
            if self.s.startswith(op, self.i):
                self.i += len(op)
                return op
        raise ParseError("unexpected character")  # pragma: no cover

    def _redirect(self) -> Redirect:
        """A redirection operator and its target (here-doc bodies are read later)."""
        op = next(op for op in _REDIRECT_OPS if self.s.startswith(op, self.i))
        self.i += len(op)
        self._blanks()
        if not self._peek() or (self._peek() in _METACHARS and self._peek(1) != "("):
            raise ParseError(f"'{op}' without a target")
        target = self._word()
        redirect = Redirect(op, target)
        if op == "<<<":
            redirect.body = target.text
        elif op in ("<<", "<<-"):
            redirect.delimiter = target.text
            redirect.strip_tabs = op == "<<-"
            self.heredocs.append(redirect)
        return redirect

    def _read_heredocs(self) -> None:
        """Here-document bodies start on the line after their `<<WORD`."""
        for redirect in self.heredocs:
            lines = []
            while self.i < len(self.s):
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                line = self.s[self.i : end]
                self.i = end + 1
                if (line.lstrip("\t") if redirect.strip_tabs else line) == redirect.delimiter:
                    break
                lines.append(line + "\n")
            redirect.body = "".join(lines)
        self.heredocs.clear()

    def _word(self) -> Word:
        """One word, up to an unquoted blank or operator."""
        word = Word()
        while True:
            c = self._peek()
            if not c or (c in _METACHARS and not (c in "<>" and self._peek(1) == "(")):
                return word
            if c == "\\":
                nxt = self._peek(1)
                self.i += 2
                if nxt != "\n":
                    word.add(nxt or "\\", quoted=True)
            elif c == "'":
                end = self.s.find("'", self.i + 1)
                if end < 0:
                    raise ParseError("unclosed single quote")
                word.add(self.s[self.i + 1 : end], quoted=True)
                self.i = end + 1
            elif c == '"':
                self.i += 1
                self._double_quoted(word)
            elif c == "$":
                self._dollar(word, quoted=False)
            elif c == "`":
                self._backticks(word)
            elif c in "<>":  # process substitution <(…) / >(…)
                start = self.i
                self.i += 2
                word.subs.append(self._nested())
                word.add(self.s[start : self.i], dynamic=True)
            else:
                word.add(c)
                self.i += 1

    def _double_quoted(self, word: Word) -> None:
        """The rest of a "…" string, with its escapes and expansions."""
        word.add("", quoted=True)
        while True:
            c = self._peek()
            if not c:
                raise ParseError("unclosed double quote")
            if c == '"':
                self.i += 1
                return
            if c == "\\" and self._peek(1) in ('"', "\\", "$", "`", "\n"):
                if self._peek(1) != "\n":
                    word.add(self._peek(1), quoted=True)
                self.i += 2
            elif c == "$":
                self._dollar(word, quoted=True)
            elif c == "`":
                self._backticks(word)
            else:
                word.add(c, quoted=True)
                self.i += 1

    def _nested(self) -> Script:
        """Parse the script of a `$(`/`<(` whose opening was just consumed, through its `)`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("nested too deeply")
        try:
            return self.script(closer=True)
        finally:
            self.depth -= 1

    def _dollar(self, word: Word, *, quoted: bool) -> None:
        """`$'…'`, `$"…"`, `$((…))`, `$(…)`, `${…}` or `$name`."""
        start = self.i
        nxt = self._peek(1)
        if nxt == "'" and not quoted:  # $'…': ANSI-C quoting
            end = self.i + 2
            while end < len(self.s) and self.s[end] != "'":
                end += 2 if self.s[end] == "\\" else 1
            if end >= len(self.s):
                raise ParseError("unclosed $'")
            word.add(ansi_c(self.s[self.i + 2 : end]), quoted=True)
            self.i = end + 1
        elif nxt == '"' and not quoted:  # $"…": a translated string, read as "…"
            self.i += 2
            self._double_quoted(word)
        elif self.s.startswith("$((", self.i):
            self.i = self._matching(self.i + 3, "(", ")", need=2)
            word.add(self.s[start : self.i], dynamic=True, quoted=quoted)
        elif nxt == "(":
            self.i += 2
            word.subs.append(self._nested())
            word.add(self.s[start : self.i], dynamic=True, quoted=quoted)
        elif nxt == "{":
            self.i = self._matching(self.i + 2, "{", "}")
            inner = self.s[start + 2 : self.i - 1]
            if "$(" in inner or "`" in inner:  # ${x:-$(cmd)} runs cmd
                nested = _Parser(inner, self.depth + 1).script()
                word.subs.extend(sub for words in _all_words(nested) for sub in words.subs)
            word.add(self.s[start : self.i], dynamic=True, quoted=quoted)
        else:
            name = _NAME.match(self.s, self.i + 1)
            if name:
                self.i = name.end()
            elif nxt and nxt in "0123456789@*#?$!-":
                self.i += 2
            else:
                self.i += 1
                word.add("$", quoted=quoted)
                return
            word.add(self.s[start : self.i], dynamic=True, quoted=quoted)

    def _matching(self, i: int, opening: str, closing: str, need: int = 1) -> int:
        """The index after the `closing` run that balances an already opened `opening`."""
        depth = 1
        while i < len(self.s):
            c = self.s[i]
            if c == "\\":
                i += 2
                continue
            if c == "'" and opening == "{":
                i = self.s.find("'", i + 1)
                if i < 0:
                    break
            elif c == opening:
                depth += 1
            elif c == closing:
                depth -= 1
                if depth == 0:
                    if need == 2:
                        if self.s.startswith(closing, i + 1):
                            return i + 2
                        raise ParseError("unbalanced $((")
                    return i + 1
            i += 1
        raise ParseError(f"unclosed {opening}")

    def _backticks(self, word: Word) -> None:
        """A `…` command substitution, parsed as a script of its own."""
        start = self.i
        i = self.i + 1
        inner: list[str] = []
        while i < len(self.s) and self.s[i] != "`":
            if self.s[i] == "\\" and i + 1 < len(self.s) and self.s[i + 1] in "`\\$":
                inner.append(self.s[i + 1])
                i += 2
            else:
                inner.append(self.s[i])
                i += 1
        if i >= len(self.s):
            raise ParseError("unclosed backtick")
        self.i = i + 1
        word.subs.append(_Parser("".join(inner), self.depth + 1).script())
        word.add(self.s[start : self.i], dynamic=True)


def ansi_c(text: str) -> str:
    """Decode the escapes of `$'…'` (\\n, \\x72, \\162, …)."""
    try:
        raw = codecs.escape_decode(text.encode("utf-8", "backslashreplace"))[0]
        return raw.decode("utf-8", errors="replace")
    except ValueError:
        return text


def _all_words(script: Script) -> Iterator[Word]:
    """Every word and redirection target of a script."""
    for pipeline in script:
        for command in pipeline:
            yield from command.words
            yield from (r.target for r in command.redirects if r.target is not None)
