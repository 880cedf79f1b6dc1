"""Documentation is checked: every setting is in the README's configuration table."""

from __future__ import annotations

from pathlib import Path

from hestia.config import Settings

README = (Path(__file__).parents[1] / "README.md").read_text()


def env_names() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        names.append(choices[0] if choices else f"HESTIA_{name.upper()}")
    return names


def test_every_setting_is_documented():
    missing = [name for name in env_names() if f"`{name}`" not in README]
    assert missing == []


def test_readme_shows_the_two_commands_and_the_tests():
    assert "pip install" in README
    assert "hestia serve" in README
    assert "pytest" in README
