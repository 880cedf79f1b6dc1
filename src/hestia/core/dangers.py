"""The dangerous-command rules: which parts of a shell command need the user's approval.

Commands are read with `core.shell_syntax`, so `echo "rm -rf /"` is only an echo: quoted text
handed to a program that does not run it is data, not a command. Text that *is* run —
`bash -c '…'`, `eval …`, `watch …`, `find -exec …`, `xargs …`, `echo … | sh`, here-documents
fed to a shell — is parsed and checked too. Wrappers (`env`, `nohup`, `time`, `timeout`,
`nice`, `xargs`, `sudo`, …) are looked through. Text that cannot be parsed needs approval.

What it does not see: code inside scripts and interpreters (`python -c '…'`, `./deploy.sh`),
commands run on other machines (`ssh host '…'`), and paths hidden in variables (`rm "$f"`),
except `$HOME`, which is always outside the workspace.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from .shell_syntax import OUTPUT_OPS, Command, ParseError, Redirect, Script, Word, ansi_c, parse


@dataclass(frozen=True, slots=True)
class Danger:
    """A matched rule: `key` is what a remembered approval covers, `reason` is for people."""

    key: str
    reason: str


def dangerous_reason(command: str, root: Path | None = None) -> str | None:
    """What is dangerous about `command` (e.g. "deletes … recursively (rm -r)"), or None.

    `root` is the workspace: writes inside it are fine. Without it every absolute path counts
    as outside.
    """
    found = find_dangers(command, root)
    if not found:
        return None
    reasons = [d.reason for d in found]
    return reasons[0] if len(reasons) == 1 else f"{', '.join(reasons[:-1])} and {reasons[-1]}"


def find_dangers(command: str, root: Path | None = None) -> list[Danger]:
    """Every rule `command` matches, once each, in the order found."""
    return analyze(command, root).dangers()


_RESERVED_PREFIXES = {"!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done", "while"}
_RESERVED_PREFIXES |= {"until", "esac", "time", "coproc"}
# A `for x in …`, `case … in`, `select`, `function f` header or a `[[ … ]]` test runs nothing.
_HEADERS = {"for", "case", "select", "function", "[["}
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "busybox-sh", "rbash"}
_INTERPRETER = re.compile(
    r"(python|pypy)[\d.]*|perl[\d.]*|ruby[\d.]*|node(js)?|php[\d.]*|lua[\d.]*|deno|bun|tclsh"
)
_DOWNLOADERS = {"curl", "wget", "fetch", "aria2c", "http", "https", "xh", "lwp-request"}
_AS_ROOT = {"sudo", "doas", "su", "pkexec", "runuser", "sudoedit"}
# wrapper → (short options taking a value, long options taking a value, operands to skip)
_WRAPPERS: dict[str, tuple[str, Collection[str], int]] = {
    "env": ("uCS", {"--unset", "--chdir", "--split-string"}, 0),
    "nohup": ("", (), 0),
    "time": ("fo", {"--format", "--output"}, 0),
    "nice": ("n", {"--adjustment"}, 0),
    "ionice": ("cnp", {"--class", "--classdata", "--pid"}, 0),
    "command": ("", (), 0),
    "builtin": ("", (), 0),
    "exec": ("a", (), 0),
    "stdbuf": ("ioe", {"--input", "--output", "--error"}, 0),
    "timeout": ("sk", {"--signal", "--kill-after"}, 1),
    "setsid": ("", (), 0),
    "nocorrect": ("", (), 0),
    "noglob": ("", (), 0),
    "busybox": ("", (), 0),
    "toybox": ("", (), 0),
    "xargs": (
        "IndELPsa",
        {"--arg-file", "--delimiter", "--eof", "--max-lines", "--max-args", "--max-procs"}
        | {"--max-chars", "--replace", "--process-slot-var"},
        0,
    ),
    "sudo": (
        "ugCDhprtUT",
        {"--user", "--group", "--close-from", "--chdir", "--host", "--prompt", "--role"}
        | {"--type", "--other-user", "--command-timeout"},
        0,
    ),
    "doas": ("uC", (), 0),
    "pkexec": ("", {"--user"}, 0),
    "runuser": ("ugGcsw", {"--user", "--group", "--command", "--shell"}, 0),
}
# Programs labelled with their subcommand in approval keys (`git commit`, not just `git`).
_SUBCOMMANDS = {"git", "npm", "pnpm", "yarn", "pip", "pip3", "uv", "cargo", "go", "docker"}
_SUBCOMMANDS |= {"podman", "kubectl", "systemctl", "apt", "apt-get", "brew", "gh", "make"}
# Read-only or trivial helpers left out of approval keys when anything else is there.
NEUTRAL = {"cd", "pwd", "echo", "printf", "true", "false", "test", "[", ":", "sleep", "ls"}
NEUTRAL |= {"cat", "head", "tail", "grep", "egrep", "fgrep", "rg", "wc", "sort", "uniq", "cut"}
NEUTRAL |= {"tr", "which", "type", "date", "basename", "dirname", "less", "more", "jq", "tee"}
NEUTRAL |= {"pushd", "popd", "export", "set"}
_DISK_DEVICE = re.compile(r"/dev/(sd|hd|vd|xvd|nvme|mmcblk|disk|loop|md|dm-|mapper/|sr)")
_HARMLESS_DEVICES = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero"}
_FORK_BOMB = re.compile(r"(?P<f>[\w:.-]+)\s*\(\)\s*\{[^}]*?(?P=f)\s*\|\s*(?P=f)\s*&")
_HOME = re.compile(r"\$\{?HOME\b")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?\+?=")


@dataclass(slots=True)
class _Options:
    """A command's options: `flags` (short letters and long names), their values, operands."""

    flags: set[str] = field(default_factory=set)
    values: dict[str, list[str]] = field(default_factory=dict)
    operands: list[Word] = field(default_factory=list)
    rest: list[Word] = field(default_factory=list)  # with `stop`: the words after the options

    def value(self, *names: str) -> list[str]:
        """The values given to any of these options."""
        return [v for name in names for v in self.values.get(name, [])]

    def long(self, name: str, shortest: int = 5) -> bool:
        """Whether `--name` (or an unambiguous abbreviation GNU getopt accepts) was given."""
        return any(
            f.startswith("--") and len(f) >= shortest and name.startswith(f) for f in self.flags
        )


def _options(
    args: list[Word], takes: str = "", long_takes: Collection[str] = (), stop: bool = False
) -> _Options:
    """Read options GNU-style (options may follow operands), or up to the first operand."""
    found = _Options()
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            found.operands += args[i + 1 :]
            found.rest = args[i + 1 :]
            return found
        if not text.startswith("-") or text == "-":
            if stop:
                found.rest = args[i:]
                found.operands = args[i:]
                return found
            found.operands.append(args[i])
        elif text.startswith("--"):
            name, eq, value = text.partition("=")
            found.flags.add(name)
            if name in long_takes and not eq and i + 1 < len(args):
                i += 1
                value = args[i].text
            if eq or name in long_takes:
                found.values.setdefault(name, []).append(value)
        else:
            for j, letter in enumerate(text[1:], 1):
                found.flags.add(letter)
                if letter in takes:
                    value = text[j + 1 :]
                    if not value and i + 1 < len(args):
                        i += 1
                        value = args[i].text
                    found.values.setdefault(letter, []).append(value)
                    break
        i += 1
    return found


class _Analysis:
    """Walks a parsed command, collecting dangers and the programs it runs."""

    def __init__(self, root: Path | None) -> None:
        self.real = root is not None
        # Without a workspace, a stand-in root that no real path can be inside.
        self.root = os.path.realpath(root) if root is not None else "/nonexistent-workspace"
        self.cwd: str | None = self.root
        self.found: dict[str, Danger] = {}
        self.programs: list[str] = []
        self._current: list[Danger] = []
        self.depth = 0

    def dangers(self) -> list[Danger]:
        """Every danger found, once each."""
        return list(self.found.values())

    def add(self, key: str, reason: str) -> None:
        """Record a danger of the command being checked."""
        danger = Danger(key, reason)
        self.found.setdefault(key, danger)
        self._current.append(danger)

    # -- walking -------------------------------------------------------------------------------

    def text(self, text: str) -> None:
        """Check shell code given as text (`bash -c`, `eval`, `watch`, a here-doc to `sh`)."""
        self.depth += 1
        try:
            self.script(parse(text, self.depth))
        except ParseError:
            self.add(f"unparsable: {text}", "runs shell code that could not be parsed safely")
        finally:
            self.depth -= 1

    def script(self, script: Script) -> None:
        """Check every command of every pipeline, in order."""
        for pipeline in script:
            for index, command in enumerate(pipeline):
                self.command(command, pipeline[:index])

    def command(self, command: Command, upstream: list[Command]) -> None:
        """Check one command with its substitutions; `upstream` are the stages piping into it."""
        saved, self._current = self._current, []
        try:
            for word in [*command.words, *(r.target for r in command.redirects if r.target)]:
                for sub in word.subs:
                    self.script(sub)
            self._current = []
            program = self.simple(command.words, command, upstream)
            self.redirects(command.redirects)
            if program and not self._current:
                self.programs.append(program)
        finally:
            self._current = saved

    def simple(self, words: list[Word], command: Command, upstream: list[Command]) -> str | None:
        """Check one simple command; its label for approval keys (None if it runs nothing)."""
        words = _strip_reserved(words)
        while words:
            first = words[0]
            if _ASSIGNMENT.match(first.text) and not first.text.startswith("="):
                words = words[1:]
                continue
            if first.leading_dynamic:
                # `$CMD -rf /`: the program is only known when it runs.
                self.add("dynamic command", "runs a command whose name is only known when it runs")
                return None
            program = posixpath.basename(first.text)
            args = words[1:]
            if program in _AS_ROOT:
                # Root (or another user) can change anything on the machine.
                self.add(program, f"runs a command as another user ({program})")
                if program in ("su", "runuser"):
                    code = _options(args, "cgs", {"--command", "--group", "--shell"}).value(
                        "c", "--command"
                    )
                    for text in code:
                        self.text(text)
                    if program == "su" or code:
                        return program
            if program in _WRAPPERS:
                takes, long_takes, skip = _WRAPPERS[program]
                options = _options(args, takes, long_takes, stop=True)
                if program == "command" and options.flags & {"v", "V"}:
                    return program  # `command -v x` only looks x up
                if program == "env" and options.value("S", "--split-string"):
                    rest = " ".join(w.text for w in options.rest)
                    self.text(" ".join([*options.value("S", "--split-string"), rest]))
                    return program
                words = options.rest[skip:]
                if program == "xargs" and not words:
                    return None  # runs echo
                continue
            if program == "watch":
                # watch runs its arguments with `sh -c`.
                options = _options(args, "n", {"--interval"}, stop=True)
                self.text(" ".join(w.text for w in options.rest))
                return program
            self.rules(program, args, command, upstream)
            return _label(program, args)
        return None

    def redirects(self, redirects: list[Redirect]) -> None:
        """Output redirections that leave the workspace or hit a disk."""
        for redirect in redirects:
            target = redirect.target
            if redirect.op not in OUTPUT_OPS or target is None:
                continue
            if redirect.op == ">&" and (target.text.isdigit() or target.text == "-"):
                continue  # `>&2` duplicates a descriptor
            self.write(target, ">")

    def write(self, target: Word, label: str) -> None:
        """Flag `target` if this command writes it outside the workspace (or to a disk)."""
        where = self.outside(target)
        if where == "device":
            # Writing a disk device bypasses the file system: data loss.
            self.add(f"{label} {target.text}", f"writes to the disk device {target.text}")
        elif where:
            self.add(f"{label} {target.text}", f"changes {target.text!r}, outside the workspace")

    def outside(self, word: Word) -> str | None:
        """`"device"`, `"outside"`, or None when `word` names a path inside the workspace."""
        text = word.text
        if word.leading_dynamic:
            # Only $HOME is known to be outside; "$f" in a loop is usually a workspace file.
            return "outside" if _HOME.match(text) else None
        if text.startswith("~"):
            return "outside"
        if text.startswith("/dev/"):
            if text in _HARMLESS_DEVICES or text.startswith("/dev/fd/"):
                return None
            return "device" if _DISK_DEVICE.match(text) else "outside"
        if text.startswith("/"):
            path = text
        elif self.cwd is None:
            return "outside"  # after `cd "$x"` a relative path could be anywhere
        else:
            path = posixpath.join(self.cwd, text)
        path = os.path.realpath(path) if self.real else posixpath.normpath(path)
        if path == self.root or path.startswith(self.root.rstrip("/") + "/"):
            return None
        return "outside"

    def change_directory(self, args: list[Word]) -> None:
        """Follow `cd`, so that later relative paths are judged from the right folder."""
        operands = _options(args).operands
        if not operands or operands[0].dynamic or operands[0].text in ("-", "~"):
            self.cwd = None  # home, the previous folder, or a variable: unknown
            return
        target = operands[0].text
        if target.startswith("~"):
            self.cwd = None
        elif self.cwd is not None or target.startswith("/"):
            joined = posixpath.join(self.cwd or "/", target)
            self.cwd = os.path.realpath(joined) if self.real else posixpath.normpath(joined)

    # -- the rules ----------------------------------------------------------------------------

    def rules(
        self, program: str, args: list[Word], command: Command, upstream: list[Command]
    ) -> None:
        """Match one program (wrappers already removed) against the rules."""
        if program in ("cd", "pushd", "popd"):
            self.change_directory(args if program != "popd" else [])
            return
        self.download_executed(program, args, command, upstream)
        if program in _SHELLS:
            self.shell(program, args, command, upstream)
        elif program == "eval":
            if any(w.dynamic for w in args):
                # Code assembled at run time (`eval "$(…)"`) cannot be checked.
                self.add("eval", "evaluates shell code that is only known when it runs")
            else:
                self.text(" ".join(w.text for w in args))
        elif program == "rm":
            self.rm(args)
        elif program in ("rmdir", "unlink", "touch", "mkdir", "tee"):
            options = _options(args, "drtm", {"--date", "--reference", "--mode"})
            for target in options.operands:
                self.write(target, program)
        elif program == "shred":
            # Overwrites contents so that nothing can bring them back.
            self.add(program, "destroys file contents beyond recovery (shred)")
            for target in _options(args, "nsr", {"--iterations", "--size"}).operands:
                self.write(target, program)
        elif program == "truncate":
            # Silently cuts or empties files; an agent rarely needs it, so asking costs little.
            self.add(program, "cuts files to a given size, losing what is beyond it (truncate)")
            for target in _options(args, "nsr", {"--iterations", "--size", "--reference"}).operands:
                self.write(target, program)
        elif program == "mv":
            # Both ends of a move change: the source disappears.
            options = _options(args, "tS", {"--target-directory", "--suffix"})
            for target in options.operands:
                self.write(target, program)
            for target in options.value("t", "--target-directory"):
                self.write(Word(target), program)
        elif program in ("cp", "ln", "install", "rsync", "scp"):
            options = _options(args, "tSmogeB", {"--target-directory", "--suffix", "--mode"})
            targets = [Word(t) for t in options.value("t", "--target-directory")]
            if not targets and options.operands:
                # Sources are only read; `install -d` creates every operand.
                d = program == "install" and "d" in options.flags
                targets = options.operands if d else options.operands[-1:]
            for target in targets:
                self.write(target, program)
        elif program in ("chmod", "chown", "chgrp"):
            options = _options(args, "", {"--reference", "--from"})
            if "R" in options.flags or options.long("--recursive"):
                # One command changes a whole tree, often to something insecure or unusable.
                self.add(
                    f"{program} -R", f"changes ownership or permissions recursively ({program} -R)"
                )
            files = options.operands if options.value("--reference") else options.operands[1:]
            for target in files:
                self.write(target, program)
        elif program == "dd":
            # One wrong `of=` overwrites a disk; an agent almost never needs dd.
            self.add("dd", "copies raw data with dd, which can overwrite disks")
            for arg in args:
                if arg.text.startswith("of="):
                    self.write(Word(arg.text[3:]), "dd of=")
        elif program.startswith("mkfs") or program in _DISK_TOOLS:
            # Formatting, partitioning and wiping erase whole disks.
            self.add(program, f"can erase a disk or partition ({program})")
        elif program in ("shutdown", "reboot", "halt", "poweroff") or (
            program in ("init", "telinit") and [w.text for w in args[:1]] in (["0"], ["6"])
        ):
            # Takes the machine (and Hestia with it) down.
            self.add(program, f"shuts down or restarts the machine ({program})")
        elif program == "systemctl":
            self.systemctl(args)
        elif program == "service" and len(args) >= 2 and args[1].text == "stop":
            self.add("service stop", "stops a system service (service … stop)")
        elif program == "kill":
            # -1 means every process the user may signal; PID 1 is init (or the container).
            if any(w.text in ("-1", "1") for w in args):
                self.add("kill -1", "kills every process of the user, or init (kill -1 / kill 1)")
        elif program in ("pkill", "killall", "killall5"):
            # Matches by name: hits processes the agent did not start (other users' work).
            self.add(program, f"kills processes by name, not only its own ({program})")
        elif program == "crontab":
            if "r" in _options(args, "u").flags:
                self.add("crontab -r", "deletes the user's crontab (crontab -r)")
        elif program == "find":
            self.find(args, command, upstream)
        elif program == "git":
            self.git(args)
        elif program == "gh":
            operands = _options(args, "R", {"--repo"}).operands
            if "delete" in [w.text for w in operands[:2]]:
                # Deletes repositories, releases … on GitHub, beyond the workspace.
                self.add("gh delete", "deletes something on GitHub (gh … delete)")
        elif program in _PACKAGE_REMOVERS:
            self.package_removal(program, args)
        elif program in ("pip", "pip3", "pipx") or _INTERPRETER.fullmatch(program):
            self.python_like(program, args, command, upstream)
        elif program == "uv" and [w.text for w in args[:2]] == ["pip", "uninstall"]:
            self.add("pip uninstall", "uninstalls Python packages (pip uninstall)")
        elif program in ("npm", "pnpm", "yarn"):
            options = _options(args)
            removing = [w.text for w in options.operands[:1]] in (
                ["uninstall"],
                ["remove"],
                ["rm"],
                ["un"],
                ["r"],
            )
            if removing and ("g" in options.flags or "--global" in options.flags):
                self.add("npm uninstall -g", "removes globally installed packages")
        elif program in ("docker", "podman"):
            self.containers(program, args)
        elif program in ("dropdb", "dropuser"):
            # Deletes a whole PostgreSQL database (or role) at once.
            self.add(program, f"deletes a database or database user ({program})")
        elif program in ("iptables", "ip6tables", "nft"):
            options = _options(args, "tAIDRN")
            if (
                options.flags & {"F", "X"}
                or "--flush" in options.flags
                or (program == "nft" and "flush" in [w.text for w in options.operands[:1]])
            ):
                self.add(f"{program} flush", "removes firewall rules")
        elif program in _SAVES_TO:
            # Downloads saved outside the workspace (`curl -o /usr/local/bin/x`).
            takes, targets = _SAVES_TO[program]
            for target in _options(args, takes, targets).value(*targets):
                if target != "-":
                    self.write(Word(target), program)
        elif program == "sed":
            options = _options(args, "efl", {"--expression", "--file", "--line-length"})
            if "i" in options.flags or options.long("--in-place", 4):
                scripted = options.value("e", "f", "--expression", "--file")
                for target in options.operands if scripted else options.operands[1:]:
                    self.write(target, "sed -i")
        elif program in ("tar", "unzip"):
            self.archive(program, args)

    # -- rule helpers --------------------------------------------------------------------------

    def rm(self, args: list[Word]) -> None:
        """`rm -r` in any spelling, and `rm` of paths outside the workspace."""
        options = _options(args)
        if options.flags & {"r", "R"} or options.long("--recursive", 3):
            # Deletes whole trees in one go; nothing to undo.
            self.add("rm -r", "deletes files and folders recursively (rm -r)")
            if any(w.leading_dynamic and not _HOME.match(w.text) for w in options.operands):
                # `rm -rf "$DIR"` with DIR empty or wrong is the classic disaster.
                self.add("rm -r $var", "deletes recursively a path only known when it runs")
        for target in options.operands:
            self.write(target, "rm")

    def shell(
        self, program: str, args: list[Word], command: Command, upstream: list[Command]
    ) -> None:
        """Check the code a shell runs: `-c TEXT`, a here-doc, or echoed text piped in."""
        options = _options(args, "oO", stop=True)
        if "c" in options.flags:
            if options.rest:
                self.text(options.rest[0].text)
            return
        if options.rest and options.rest[0].text != "-" and "s" not in options.flags:
            return  # runs a script file: its content is not checked
        for redirect in command.redirects:
            if redirect.body is not None and redirect.op in ("<<", "<<-", "<<<"):
                self.text(redirect.body)  # a here-doc or here-string is the script
        for stage in upstream[-1:]:
            # `echo 'rm -rf x' | sh`: the echoed text is the script.
            if stage.words and stage.words[0].text in ("echo", "printf"):
                printed = " ".join(w.text for w in _options(stage.words[1:], stop=True).rest)
                self.text(ansi_c(printed) if stage.words[0].text == "printf" else printed)

    def download_executed(
        self, program: str, args: list[Word], command: Command, upstream: list[Command]
    ) -> None:
        """`curl … | sh`, `bash <(curl …)`, `eval "$(curl …)"`, `python3 <<< "$(wget …)"`."""
        executes = program in _SHELLS or program in ("eval", "source", ".")
        if not (executes or _INTERPRETER.fullmatch(program)):
            return
        downloader = None
        if _reads_program_from_stdin(program, args):
            # From a pipe (`curl … | sh`) or a redirect (`sh < <(curl …)`).
            feeds = [*upstream, *(Command([r.target]) for r in command.redirects if r.op == "<")]
            downloader = next((d for feed in feeds if (d := _downloader(feed)) is not None), None)
        if downloader is None:
            words = [*args, *(r.target for r in command.redirects if r.op == "<<<" and r.target)]
            downloader = next(
                (d for w in words for s in w.subs if (d := _script_downloader(s)) is not None),
                None,
            )
        if downloader is not None:
            # Runs whatever the server sends, unseen: the classic supply-chain foot-gun.
            self.add(
                f"{downloader} | {program}",
                f"runs a script downloaded from the internet ({downloader} | {program})",
            )

    def python_like(
        self, program: str, args: list[Word], command: Command, upstream: list[Command]
    ) -> None:
        """`pip uninstall`, also as `python -m pip uninstall`."""
        if program in ("pip", "pip3", "pipx"):
            operands = _options(args).operands
        else:
            options = _options(args, "cmWXQ", stop=True)
            if options.value("m") not in (["pip"], ["pip3"]):
                return
            operands = _options(options.rest).operands
        if [w.text for w in operands[:1]] == ["uninstall"]:
            # Removing packages from the user's environment can break other projects.
            self.add("pip uninstall", "uninstalls Python packages (pip uninstall)")

    def systemctl(self, args: list[Word]) -> None:
        """Stopping services or the machine."""
        operands = _options(args, "tpHMsn", {"--type", "--property", "--host", "--signal"}).operands
        verb = operands[0].text if operands else ""
        if verb in ("poweroff", "reboot", "halt", "kexec", "suspend", "hibernate"):
            self.add(f"systemctl {verb}", f"shuts down or restarts the machine (systemctl {verb})")
        elif verb in ("stop", "disable", "mask", "kill", "isolate"):
            # Stopping or disabling services can take down what the user (or Hestia) relies on.
            self.add(f"systemctl {verb}", f"stops or disables system services (systemctl {verb})")

    def find(self, args: list[Word], command: Command, upstream: list[Command]) -> None:
        """`find -delete`, `find -exec rm`, and whatever else `-exec` runs."""
        texts = [w.text for w in args]
        if "-delete" in texts:
            # Deletes everything the expression matches; one wrong test and it is all gone.
            self.add("find -delete", "deletes every file a search finds (find -delete)")
        for i, text in enumerate(texts):
            if text not in ("-exec", "-execdir", "-ok", "-okdir"):
                continue
            end = next((j for j in range(i + 1, len(texts)) if texts[j] in (";", "+")), len(texts))
            inner = args[i + 1 : end]
            if not inner:
                continue
            label = self.simple(inner, Command(inner), [])
            if posixpath.basename(inner[0].text) in ("rm", "shred", "unlink", "rmdir"):
                self.add("find -delete", "deletes every file a search finds (find -exec rm)")
            elif label and label not in self.programs:
                self.programs.append(label)  # `find -exec python …` is labelled python too

    def git(self, args: list[Word]) -> None:
        """git commands that lose work: remote history, uncommitted changes, branches."""
        top = _options(
            args, "Cc", {"--git-dir", "--work-tree", "--namespace", "--config-env"}, stop=True
        )
        if not top.rest:
            return
        sub, rest = top.rest[0].text, top.rest[1:]
        options = _options(rest, "oebBc", {"--repo", "--receive-pack", "--exec", "--push-option"})
        flags, operands = options.flags, [w.text for w in options.operands]
        if sub == "push":
            if (
                "f" in flags
                or flags & {"--force", "--force-with-lease", "--mirror"}
                or any(o.startswith("+") for o in operands)
            ):
                # Overwrites the remote's history: other people's commits can vanish.
                self.add("git push --force", "rewrites history on a remote (git push --force)")
            if (
                "d" in flags
                or flags & {"--delete", "--prune"}
                or any(o.startswith(":") and len(o) > 1 for o in operands)
            ):
                self.add("git push --delete", "deletes branches or tags on a remote")
        elif sub == "reset" and "--hard" in flags:
            # Uncommitted work is not in any commit: it is gone for good.
            self.add("git reset --hard", "throws away uncommitted changes (git reset --hard)")
        elif (
            sub == "clean"
            and ("f" in flags or "--force" in flags)
            and not ("n" in flags or "--dry-run" in flags)
        ):
            # Untracked files were never committed: deleting them cannot be undone.
            self.add("git clean -f", "deletes untracked files (git clean -f)")
        elif sub == "checkout" and (
            "f" in flags or "--force" in flags or "--" in [w.text for w in rest] or "." in operands
        ):
            self.add("git checkout --", "discards uncommitted changes to files (git checkout --)")
        elif sub == "restore" and not (
            flags & {"S", "--staged"} and not flags & {"W", "--worktree"}
        ):
            self.add("git restore", "discards uncommitted changes to files (git restore)")
        elif sub == "switch" and flags & {"f", "--force", "--discard-changes"}:
            self.add("git switch --discard-changes", "discards uncommitted changes (git switch -f)")
        elif sub == "stash" and operands[:1] in (["drop"], ["clear"]):
            self.add("git stash drop", "deletes stashed changes (git stash drop/clear)")
        elif sub == "branch" and (
            "D" in flags or ({"d", "--delete"} & flags and {"f", "--force"} & flags)
        ):
            self.add("git branch -D", "deletes a branch even if it is not merged (git branch -D)")
        elif sub in ("filter-branch", "filter-repo"):
            self.add(f"git {sub}", f"rewrites the repository's whole history (git {sub})")

    def package_removal(self, program: str, args: list[Word]) -> None:
        """`apt remove`, `dnf erase`, `pacman -R`, `brew uninstall` …"""
        options = _options(args, "ocC")
        if program == "pacman":
            verb, removing = "-R", "R" in options.flags or "--remove" in options.flags
        else:
            verb = options.operands[0].text if options.operands else ""
            removing = verb in _PACKAGE_REMOVERS[program]
        if removing:
            # Removing system packages can break the machine and other users' programs.
            self.add(f"{program} remove", f"removes installed packages ({program} {verb})")

    def containers(self, program: str, args: list[Word]) -> None:
        """Container commands that delete volumes and other state."""
        operands = [
            w.text for w in _options(args, "fHcl", {"--file", "--host", "--context"}).operands
        ]
        head = " ".join(operands[:2])
        if head in ("system prune", "volume rm", "volume prune") or (
            operands[:2] == ["compose", "down"] and {"-v", "--volumes"} & {w.text for w in args}
        ):
            # Volumes hold databases and other state that exists nowhere else.
            self.add(f"{program} {head}", f"deletes containers' data ({program} {head})")

    def archive(self, program: str, args: list[Word]) -> None:
        """Archives unpacked outside the workspace (`tar -x -C /opt`, `unzip -d /`)."""
        if program == "unzip":
            for target in _options(args, "dxP").value("d"):
                self.write(Word(target), "unzip -d")
            return
        if args and not args[0].text.startswith("-") and args[0].text.isalpha():
            args = [Word("-" + args[0].text), *args[1:]]  # old style: `tar xzf a.tgz`
        options = _options(args, "CfbFgHIKLNTVX", {"--directory", "--file"})
        if "x" in options.flags or options.flags & {"--extract", "--get"}:
            for target in options.value("C", "--directory"):
                self.write(Word(target), "tar -C")


# downloader → (short options taking a value, options naming a file or folder it writes)
_SAVES_TO: dict[str, tuple[str, tuple[str, ...]]] = {
    "curl": (
        "oHdXuAeErTwxyzKbcCmD",
        ("o", "c", "D", "--output", "--output-dir", "--cookie-jar", "--dump-header"),
    ),
    "wget": (
        "OPoaeUtTwiBlARDXIQ",
        ("O", "P", "o", "a", "--output-document", "--directory-prefix", "--output-file")
        + ("--append-output",),
    ),
}
_DISK_TOOLS = {"mke2fs", "fdisk", "sfdisk", "cfdisk", "gdisk", "sgdisk", "parted", "wipefs"}
_DISK_TOOLS |= {"mkswap", "blkdiscard"}
_PACKAGE_REMOVERS: dict[str, set[str]] = {
    "apt": {"remove", "purge", "autoremove", "autopurge"},
    "apt-get": {"remove", "purge", "autoremove", "autopurge"},
    "aptitude": {"remove", "purge"},
    "dnf": {"remove", "erase", "autoremove"},
    "yum": {"remove", "erase", "autoremove"},
    "microdnf": {"remove"},
    "zypper": {"remove", "rm"},
    "apk": {"del"},
    "pacman": set(),
    "brew": {"uninstall", "remove", "rm"},
    "snap": {"remove"},
    "flatpak": {"uninstall"},
    "conda": {"remove", "uninstall"},
    "mamba": {"remove", "uninstall"},
    "gem": {"uninstall"},
}


def _strip_reserved(words: list[Word]) -> list[Word]:
    """Drop `if`, `then`, `do`, `!`, `{` … in front of a command; a loop header runs nothing."""
    while words and not words[0].quoted and words[0].text in _RESERVED_PREFIXES:
        words = words[1:]
    if words and not words[0].quoted and words[0].text in _HEADERS:
        return []
    return words


def _label(program: str, args: list[Word]) -> str:
    """How a harmless command is named in approval keys."""
    if program in _SUBCOMMANDS:
        operands = _options(args, "Cc", stop=True).rest
        if operands and not operands[0].dynamic:
            return f"{program} {operands[0].text}"
    return program


def _program(command: Command) -> str | None:
    """The program a command runs, looking through assignments and wrappers (roughly)."""
    for word in command.words:
        text = word.text
        if _ASSIGNMENT.match(text) or text.startswith("-") or text.isdigit():
            continue
        name = posixpath.basename(text)
        if name in _WRAPPERS or name in _AS_ROOT:
            continue
        return name
    return None


def _downloader(command: Command) -> str | None:
    """The downloader this pipeline stage runs (itself or in a substitution), if any."""
    program = _program(command)
    if program in _DOWNLOADERS:
        return program
    return next(
        (d for w in command.words for s in w.subs if (d := _script_downloader(s)) is not None),
        None,
    )


def _script_downloader(script: Script) -> str | None:
    """The first downloader a (substituted) script runs, if any."""
    return next(
        (d for pipeline in script for c in pipeline if (d := _downloader(c)) is not None), None
    )


def _reads_program_from_stdin(program: str, args: list[Word]) -> bool:
    """Whether `program` (a shell or an interpreter) runs the code it reads on stdin."""
    if program in ("eval", "source", "."):
        return [w.text for w in args[:1]] in (["/dev/stdin"], ["-"])
    if program in _SHELLS:
        options = _options(args, "oO", stop=True)
        if "c" in options.flags:
            return False
        return "s" in options.flags or not options.rest or options.rest[0].text == "-"
    options = _options(args, "cmeEWXIr", {"--eval", "--require"}, stop=True)
    if options.flags & {"c", "m", "e", "E", "r", "--eval"}:
        return False
    return not options.rest or options.rest[0].text == "-"


def analyze(command: str, root: Path | None) -> _Analysis:
    """Parse and check `command`; an unparsable one is a danger of its own."""
    analysis = _Analysis(root)
    if _FORK_BOMB.search(command):
        # A function that pipes itself into itself in the background: exhausts the machine.
        analysis.add("fork bomb", "is a fork bomb")
    try:
        script = parse(command)
    except ParseError:
        analysis.add(
            f"unparsable: {command}",
            "could not be parsed safely (unbalanced quotes or brackets), so it was not checked",
        )
        return analysis
    analysis.script(script)
    return analysis
