"""One duration grammar for settings, the policy and partner files, and the command line."""

from __future__ import annotations

import pytest

from troubleticket.config import ConfigError, Settings
from troubleticket.domain.durations import parse_duration
from troubleticket.domain.policy_file import parse_policy


@pytest.mark.parametrize(("raw", "seconds"), [("90", 90), ("1h30m", 5400), ("PT4H", 14400)])
def test_every_place_reads_a_duration_alike(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == seconds
    assert Settings.from_env({"TT_DISPATCH_INTERVAL": raw}).dispatch_interval == seconds
    assert parse_policy({"monitor": {"interval": raw}}).monitor_interval == seconds


def test_no_time_at_all_is_a_duration_only_where_it_means_something() -> None:
    assert parse_duration("0") is None
    assert parse_duration("0", zero=True) == 0
    assert Settings.from_env({"TT_JWT_LEEWAY": "0"}).jwt_leeway == 0
    with pytest.raises(ConfigError, match="TT_DELIVERY_TIMEOUT"):
        Settings.from_env({"TT_DELIVERY_TIMEOUT": "0"})


@pytest.mark.parametrize("raw", ["5x", "1h 30m", "P", "-5m", "4000d"])
def test_what_is_no_duration_is_refused_everywhere_naming_the_grammar(raw: str) -> None:
    assert parse_duration(raw) is None
    with pytest.raises(ConfigError, match="a duration such as 90, 90s, 15m, 4h, 1d, 1h30m or PT4H"):
        Settings.from_env({"TT_DELIVERY_TIMEOUT": raw})
