"""The workspace jail (I10), one test per trick: every path resolves inside the root or is
refused with `PathRefused` (400) — never quietly turned into some other path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hestia.core.workspace import MAX_PATH_LENGTH, PathRefused, Workspace
from hestia.errors import NotFound


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder next to the workspace holding a secret file."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("secret")
    return folder


@pytest.fixture
def ws(tmp_path: Path, outside: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "a").mkdir()
    (root / "a" / "b.txt").write_text("b")
    return Workspace(root)


def refused(ws: Workspace, path: str, *, must_exist: bool = False) -> PathRefused:
    with pytest.raises(PathRefused) as info:
        ws.resolve(path, must_exist=must_exist)
    assert info.value.status == 400
    return info.value


def test_i10_leading_dotdot(ws: Workspace) -> None:
    assert refused(ws, "../outside/secret.txt").code == "path_outside_workspace"


def test_i10_middle_dotdot(ws: Workspace) -> None:
    assert refused(ws, "a/../../outside/secret.txt").code == "path_outside_workspace"


def test_i10_dotdot_after_a_folder(ws: Workspace) -> None:
    refused(ws, "a/../../b")


def test_i10_dotdot_alone(ws: Workspace) -> None:
    refused(ws, "..")


def test_i10_absolute_path(ws: Workspace) -> None:
    assert refused(ws, "/etc/passwd").code == "path_outside_workspace"


def test_i10_double_slash_absolute(ws: Workspace) -> None:
    refused(ws, "//etc")


def test_i10_tilde(ws: Workspace) -> None:
    refused(ws, "~")
    refused(ws, "~/.ssh/id_rsa")


def test_i10_symlink_to_a_file_outside(ws: Workspace, outside: Path) -> None:
    (ws.root / "link.txt").symlink_to(outside / "secret.txt")
    assert refused(ws, "link.txt", must_exist=True).code == "path_outside_workspace"


def test_i10_symlinked_folder_outside(ws: Workspace, outside: Path) -> None:
    (ws.root / "out").symlink_to(outside, target_is_directory=True)
    refused(ws, "out")
    refused(ws, "out/secret.txt")


def test_i10_new_file_below_a_symlinked_folder(ws: Workspace, outside: Path) -> None:
    (ws.root / "out").symlink_to(outside, target_is_directory=True)
    refused(ws, "out/new.txt")  # a write target that does not exist yet
    refused(ws, "out/deeper/new.txt")
    assert not (outside / "new.txt").exists()


def test_i10_symlink_chain(ws: Workspace, outside: Path) -> None:
    (ws.root / "one").symlink_to(ws.root / "two")
    (ws.root / "two").symlink_to(ws.root / "a" / "three")
    (ws.root / "a" / "three").symlink_to(outside / "secret.txt")
    refused(ws, "one")


def test_i10_dangling_symlink_to_outside(ws: Workspace, outside: Path) -> None:
    (ws.root / "later.txt").symlink_to(outside / "not-yet.txt")
    refused(ws, "later.txt")


def test_i10_url_encoded_dotdot_slash(ws: Workspace) -> None:
    assert refused(ws, "%2e%2e%2foutside/secret.txt").code == "invalid_path"


def test_i10_url_encoded_uppercase(ws: Workspace) -> None:
    refused(ws, "%2E%2E/outside/secret.txt")


def test_i10_url_encoded_slash_only(ws: Workspace) -> None:
    refused(ws, "..%2foutside/secret.txt")


def test_i10_double_encoded(ws: Workspace) -> None:
    refused(ws, "%252e%252e%252foutside")


def test_i10_fullwidth_dots_and_slash(ws: Workspace) -> None:
    assert refused(ws, "．．／outside/secret.txt").code == "invalid_path"


def test_i10_division_slash(ws: Workspace) -> None:
    refused(ws, "..\u2215outside\u2215secret.txt")


def test_i10_one_dot_leader(ws: Workspace) -> None:
    refused(ws, "\u2024\u2024/outside/secret.txt")


def test_i10_small_full_stop(ws: Workspace) -> None:
    refused(ws, "\ufe52\ufe52/outside/secret.txt")


def test_i10_nul(ws: Workspace) -> None:
    assert refused(ws, "a/b.txt\x00.png").code == "invalid_path"


def test_i10_control_characters(ws: Workspace) -> None:
    for char in ("\n", "\r", "\t", "\x1b", "\x7f"):
        refused(ws, f"a{char}b.txt")


def test_i10_backslashes(ws: Workspace) -> None:
    refused(ws, "..\\outside\\secret.txt")
    refused(ws, "a\\b.txt")


def test_i10_over_long_path(ws: Workspace) -> None:
    assert refused(ws, "a/" * (MAX_PATH_LENGTH // 2 + 1)).code == "invalid_path"


def test_i10_long_but_allowed_path_is_not_refused(ws: Workspace) -> None:
    path = "/".join(["d" * 200] * 10)
    assert ws.resolve(path) == ws.root.joinpath(*path.split("/"))


def test_i10_name_with_spaces(ws: Workspace) -> None:
    assert ws.resolve("my notes/a file.txt") == ws.root / "my notes" / "a file.txt"


def test_i10_accented_name(ws: Workspace) -> None:
    (ws.root / "naïve.txt").write_text("x")
    assert ws.resolve("naïve.txt", must_exist=True) == ws.root / "naïve.txt"


def test_i10_japanese_names(ws: Workspace) -> None:
    assert ws.resolve("日本語/ファイル.md") == ws.root / "日本語" / "ファイル.md"


def test_i10_name_starting_with_two_dots(ws: Workspace) -> None:
    assert ws.resolve("..foo") == ws.root / "..foo"
    assert ws.resolve("a/..bar..") == ws.root / "a" / "..bar.."


def test_i10_dotfile(ws: Workspace) -> None:
    assert ws.resolve(".gitignore") == ws.root / ".gitignore"


def test_i10_empty_path_is_the_root(ws: Workspace) -> None:
    assert ws.resolve("") == ws.root
    assert ws.resolve(None) == ws.root


def test_i10_symlink_that_stays_inside(ws: Workspace) -> None:
    (ws.root / "shortcut").symlink_to(ws.root / "a", target_is_directory=True)
    assert ws.resolve("shortcut/b.txt", must_exist=True) == ws.root / "a" / "b.txt"


def test_i10_missing_file_is_not_found(ws: Workspace) -> None:
    with pytest.raises(NotFound) as info:
        ws.resolve("nope.txt", must_exist=True)
    assert info.value.code == "file_not_found"


def test_i10_workspace_root_behind_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    ws = Workspace(tmp_path / "alias")
    assert ws.resolve("x.txt") == real / "x.txt"
    with pytest.raises(PathRefused):
        ws.resolve("../real/x.txt")
    assert os.path.realpath(tmp_path / "alias") == str(ws.root)


def test_i10_c1_control_characters(ws: Workspace) -> None:
    for char in ("\x85", "\x9b"):  # NEL, CSI
        assert refused(ws, f"a{char}b.txt").code == "invalid_path"


def test_i10_text_direction_controls(ws: Workspace) -> None:
    # `evil\u202etxt.exe` would show as `evilexe.txt`.
    for char in ("\u202e", "\u2066"):
        assert refused(ws, f"evil{char}txt.exe").code == "invalid_path"


def test_i10_lone_surrogate(ws: Workspace) -> None:
    assert refused(ws, "a\udcff.txt").code == "invalid_path"


def test_i10_over_long_name_is_refused_not_an_os_error(ws: Workspace) -> None:
    for must_exist in (False, True):
        assert refused(ws, "x" * 256, must_exist=must_exist).code == "invalid_path"
        assert refused(ws, "a/" + "é" * 128, must_exist=must_exist).code == "invalid_path"
    assert ws.resolve("x" * 255) == ws.root / ("x" * 255)
