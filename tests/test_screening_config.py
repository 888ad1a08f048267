"""[screening] in the config: exclusion reasons and reviewers, validated like every other key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_settings
from bot.decisions import DEFAULT_EXCLUSION_REASONS
from bot.errors import ConfigError
from tests.factories import MINIMAL_CONFIG, write_config


def test_defaults_without_a_screening_table(tmp_path: Path) -> None:
    """No [screening]: the six default reasons, anyone may screen."""
    settings = load_settings(write_config(tmp_path))
    assert settings.screening.exclusion_reasons == DEFAULT_EXCLUSION_REASONS
    assert settings.screening.reviewers == ()


def test_configured_reasons_and_reviewers_load(tmp_path: Path) -> None:
    """Reasons keep their order and spelling; a reason is found whatever its case and spacing."""
    settings = load_settings(write_config(tmp_path, MINIMAL_CONFIG + """
[screening]
exclusion_reasons = ["Animal study", "No exosome product"]
reviewers = ["U0ALICE01", "W0BOB0002"]
"""))
    assert settings.screening.exclusion_reasons == ("Animal study", "No exosome product")
    assert settings.screening.reviewers == ("U0ALICE01", "W0BOB0002")
    assert settings.screening.reason("  animal   STUDY ") == "Animal study"
    assert settings.screening.reason("wrong population") is None


@pytest.mark.parametrize(("table", "problem"), [
    ('reviewers = ["alice"]', "screening.reviewers: 'alice' is not a Slack user ID (U… or W…"),
    ("exclusion_reasons = []", "screening.exclusion_reasons: must list at least one reason"),
    ('exclusion_reasons = ["dup", "Dup"]', "screening.exclusion_reasons: 'dup' is listed twice"),
    ('exclusion_reasons = "dup"', "screening.exclusion_reasons: must be an array of non-empty strings"),
    ("reviewer = []", "screening.reviewer: unknown key (allowed: exclusion_reasons, reviewers)"),
])  # fmt: skip
def test_bad_screening_settings_name_the_key(tmp_path: Path, table: str, problem: str) -> None:
    """Each mistake in [screening] is reported as file: key: reason."""
    path = write_config(tmp_path, MINIMAL_CONFIG + f"\n[screening]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert any(problem in line and line.startswith(str(path)) for line in caught.value.problems), caught.value.problems
