"""Settings read from TT_* variables (passed as a plain dict) and from overrides."""

from __future__ import annotations

import os
from dataclasses import fields

import pytest

from troubleticket.config import DEFAULT_STORE, ConfigError, Settings


class TestDefaults:
    def test_an_empty_environment_gives_the_defaults(self) -> None:
        settings = Settings.from_env({})

        assert settings == Settings()
        assert settings.store == DEFAULT_STORE == "./data/troubleticket.sqlite3"
        assert settings.host == "127.0.0.1"
        assert settings.port == 8080
        assert settings.base_url is None
        assert settings.max_body_bytes == 1_048_576
        assert settings.default_page_size == 100
        assert settings.max_page_size == 1000
        assert settings.log_level == "info"

    def test_variables_without_the_tt_prefix_are_ignored(self) -> None:
        assert Settings.from_env({"PORT": "9", "HOST": "example.com"}) == Settings()


class TestEachVariable:
    @pytest.mark.parametrize(
        ("variable", "raw", "attribute", "expected"),
        [
            pytest.param("TT_PORT", "9090", "port", 9090, id="port"),
            pytest.param("TT_PORT", "65535", "port", 65535, id="port-highest"),
            pytest.param("TT_HOST", "0.0.0.0", "host", "0.0.0.0", id="host"),
            pytest.param(
                "TT_STORE", "/var/lib/tt/db.sqlite3", "store", "/var/lib/tt/db.sqlite3", id="store"
            ),
            pytest.param(
                "TT_BASE_URL",
                "https://tt.example.com",
                "base_url",
                "https://tt.example.com",
                id="base-url",
            ),
            pytest.param(
                "TT_BASE_URL",
                "https://tt.example.com/",
                "base_url",
                "https://tt.example.com",
                id="base-url-trailing-slash",
            ),
            pytest.param(
                "TT_BASE_URL",
                "http://example.com:8443/gateway//",
                "base_url",
                "http://example.com:8443/gateway",
                id="base-url-prefix-slashes",
            ),
            pytest.param("TT_MAX_BODY_BYTES", "2048", "max_body_bytes", 2048, id="max-body"),
            pytest.param(
                "TT_DEFAULT_PAGE_SIZE", "25", "default_page_size", 25, id="default-page-size"
            ),
            pytest.param("TT_MAX_PAGE_SIZE", "5000", "max_page_size", 5000, id="max-page-size"),
            pytest.param("TT_LOG_LEVEL", "debug", "log_level", "debug", id="log-level"),
            pytest.param(
                "TT_LOG_LEVEL", "WARNING", "log_level", "warning", id="log-level-upper-case"
            ),
            pytest.param(
                "TT_LOG_LEVEL", "Critical", "log_level", "critical", id="log-level-critical"
            ),
        ],
    )
    def test_a_variable_sets_its_attribute(
        self, variable: str, raw: str, attribute: str, expected: object
    ) -> None:
        settings = Settings.from_env({variable: raw})

        assert getattr(settings, attribute) == expected
        unchanged = [f.name for f in fields(Settings) if f.name != attribute]
        assert [getattr(settings, name) for name in unchanged] == [
            getattr(Settings(), name) for name in unchanged
        ]

    def test_all_variables_together(self) -> None:
        settings = Settings.from_env(
            {
                "TT_STORE": "/tmp/tt.sqlite3",
                "TT_HOST": "10.0.0.5",
                "TT_PORT": "8000",
                "TT_BASE_URL": "https://api.example.com/",
                "TT_MAX_BODY_BYTES": "4096",
                "TT_DEFAULT_PAGE_SIZE": "10",
                "TT_MAX_PAGE_SIZE": "50",
                "TT_LOG_LEVEL": "error",
            }
        )
        assert settings == Settings(
            store="/tmp/tt.sqlite3",
            host="10.0.0.5",
            port=8000,
            base_url="https://api.example.com",
            max_body_bytes=4096,
            default_page_size=10,
            max_page_size=50,
            log_level="error",
        )


class TestBadValues:
    @pytest.mark.parametrize(
        ("variable", "raw", "why"),
        [
            pytest.param("TT_PORT", "http", "not an integer", id="port-text"),
            pytest.param("TT_PORT", "80.5", "not an integer", id="port-decimal"),
            pytest.param("TT_PORT", "0", "greater than 0", id="port-zero"),
            pytest.param("TT_PORT", "-1", "greater than 0", id="port-negative"),
            pytest.param("TT_PORT", "65536", "not a TCP port", id="port-too-high"),
            pytest.param("TT_MAX_BODY_BYTES", "1MB", "not an integer", id="max-body-unit"),
            pytest.param("TT_MAX_BODY_BYTES", "0", "greater than 0", id="max-body-zero"),
            pytest.param("TT_DEFAULT_PAGE_SIZE", "-5", "greater than 0", id="page-size"),
            pytest.param("TT_MAX_PAGE_SIZE", "many", "not an integer", id="max-page-size"),
            pytest.param(
                "TT_BASE_URL", "tt.example.com", "absolute http(s) URL", id="base-url-no-scheme"
            ),
            pytest.param(
                "TT_BASE_URL", "ftp://tt.example.com", "absolute http(s) URL", id="base-url-ftp"
            ),
            pytest.param("TT_BASE_URL", "http://", "absolute http(s) URL", id="base-url-no-host"),
            pytest.param(
                "TT_BASE_URL",
                "https://tt.example.com/?x=1",
                "query or fragment",
                id="base-url-query",
            ),
            pytest.param(
                "TT_BASE_URL",
                "https://tt.example.com/#top",
                "query or fragment",
                id="base-url-fragment",
            ),
            pytest.param("TT_LOG_LEVEL", "verbose", "expected debug", id="log-level"),
        ],
    )
    def test_a_bad_value_names_the_variable_and_the_value(
        self, variable: str, raw: str, why: str
    ) -> None:
        with pytest.raises(ConfigError) as caught:
            Settings.from_env({variable: raw})

        message = str(caught.value)
        assert message.startswith(f"{variable} has value {raw!r}")
        assert why in message

    @pytest.mark.parametrize("variable", ["TT_HOST", "TT_STORE"])
    @pytest.mark.parametrize("raw", ["", "   "])
    def test_an_empty_text_value_is_refused_naming_the_variable(
        self, variable: str, raw: str
    ) -> None:
        with pytest.raises(ConfigError, match=f"^{variable} is set but empty$"):
            Settings.from_env({variable: raw})

    def test_a_default_page_larger_than_the_maximum_is_refused(self) -> None:
        expected = r"TT_DEFAULT_PAGE_SIZE \(200\) exceeds TT_MAX_PAGE_SIZE \(100\)"
        with pytest.raises(ConfigError, match=expected):
            Settings.from_env({"TT_DEFAULT_PAGE_SIZE": "200", "TT_MAX_PAGE_SIZE": "100"})

    def test_a_maximum_below_the_default_page_is_refused(self) -> None:
        with pytest.raises(ConfigError, match=r"\(100\) exceeds TT_MAX_PAGE_SIZE \(50\)"):
            Settings.from_env({"TT_MAX_PAGE_SIZE": "50"})

    def test_metrics_on_the_api_port_number_are_refused(self) -> None:
        with pytest.raises(ConfigError, match=r"^TT_METRICS_PORT \(8080\) is the API's TT_PORT"):
            Settings.from_env({"TT_METRICS_PORT": "8080"})
        assert Settings.from_env({"TT_METRICS_PORT": "9464"}).metrics_port == 9464

    @pytest.mark.parametrize(("raw", "expected"), [("0", False), ("off", False), ("1", True)])
    def test_metrics_can_be_switched_off(self, raw: str, expected: bool) -> None:
        assert Settings.from_env({"TT_METRICS": raw}).metrics is expected

    def test_tracing_takes_off_otlp_or_console(self) -> None:
        assert Settings.from_env({"TT_TRACING": "otlp"}).tracing == "otlp"
        with pytest.raises(ConfigError, match="^TT_TRACING has value 'jaeger': expected off"):
            Settings.from_env({"TT_TRACING": "jaeger"})

    def test_config_error_is_a_value_error(self) -> None:
        assert issubclass(ConfigError, ValueError)


class TestPublicBaseUrl:
    def test_an_explicit_base_url_wins(self) -> None:
        settings = Settings(host="0.0.0.0", port=9000, base_url="https://tt.example.com")
        assert settings.public_base_url == "https://tt.example.com"

    @pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1", "::"])
    def test_a_wildcard_or_loopback_host_is_reached_as_localhost(self, host: str) -> None:
        assert Settings(host=host, port=9000).public_base_url == "http://localhost:9000"

    def test_any_other_host_is_used_as_is(self) -> None:
        assert Settings(host="tt.internal", port=8081).public_base_url == "http://tt.internal:8081"

    def test_the_default_settings_give_localhost_8080(self) -> None:
        assert Settings().public_base_url == "http://localhost:8080"

    @pytest.mark.parametrize(
        ("host", "acceptable"),
        [
            pytest.param("::1", {"http://[::1]:9000", "http://localhost:9000"}, id="loopback"),
            pytest.param("fd00::5", {"http://[fd00::5]:9000"}, id="unique-local"),
        ],
    )
    def test_an_ipv6_host_is_bracketed_so_the_url_stays_valid(
        self, host: str, acceptable: set[str]
    ) -> None:
        # RFC 3986 §3.2.2: an IPv6 literal in a URL must be enclosed in brackets.
        assert Settings(host=host, port=9000).public_base_url in acceptable


class TestWithOverrides:
    def test_none_values_are_skipped(self) -> None:
        base = Settings.from_env({"TT_PORT": "9000", "TT_LOG_LEVEL": "debug"})

        result = base.with_overrides({"port": None, "log_level": None, "host": "0.0.0.0"})

        assert result.port == 9000
        assert result.log_level == "debug"
        assert result.host == "0.0.0.0"

    def test_only_none_values_leave_the_settings_equal(self) -> None:
        base = Settings(port=9000)
        assert base.with_overrides({"port": None, "base_url": None}) == base

    def test_overrides_are_parsed_like_variables_and_the_original_is_unchanged(self) -> None:
        base = Settings()

        result = base.with_overrides({"port": "7000", "base_url": "http://tt.example.com/"})

        assert (result.port, result.base_url) == (7000, "http://tt.example.com")
        assert (base.port, base.base_url) == (8080, None)

    def test_a_bad_override_names_the_variable_it_stands_for(self) -> None:
        with pytest.raises(ConfigError, match="^TT_PORT has value 'x'"):
            Settings().with_overrides({"port": "x"})


@pytest.mark.parametrize(
    ("store", "shown"),
    [
        (
            "mongodb://app:s3cr%40t@db1:27017,db2/tt?replicaSet=rs0",
            "mongodb://app:***@db1:27017,db2/tt?replicaSet=rs0",
        ),
        ("mongodb+srv://app:pw@cluster.example.net", "mongodb+srv://app:***@cluster.example.net"),
        ("mongodb://app@db1/tt", "mongodb://app@db1/tt"),
        ("mongodb://db1/tt", "mongodb://db1/tt"),
        ("./data/troubleticket.sqlite3", "./data/troubleticket.sqlite3"),
    ],
)
def test_the_store_is_shown_without_its_password(store: str, shown: str) -> None:
    assert Settings(store=store).store_shown == shown


@pytest.mark.parametrize(
    "settings",
    [
        Settings(),
        Settings(
            workers=4,
            port=9000,
            base_url="https://tt.example.com/api",
            delivery_schedule=(0.25, 5.0, 300.0),
            jwt_leeway=0.000001,
            auth="jwt",
            jwks="/etc/tt/jwks.json",
            jwt_issuer="https://idp.example.com/realms/tt",
            jwt_audience="troubleticket",
            jwt_algorithms=("ES256",),
            trusted_gateway=True,
            egress_allow=("10.0.0.0/8", "fd00::/8"),
            policy="/etc/tt/policy.yaml",
        ),
    ],
    ids=["defaults", "everything set"],
)
def test_settings_handed_to_worker_processes_read_back_equal(settings: Settings) -> None:
    environment = settings.environment()
    assert all(name.startswith("TT_") for name in environment)
    assert Settings.from_env(environment) == settings


def test_the_number_of_workers_is_a_positive_integer() -> None:
    assert Settings.from_env({"TT_WORKERS": "3"}).workers == 3
    assert Settings().workers == 1
    for bad in ("0", "-2", "two", "1.5"):
        with pytest.raises(ConfigError, match="TT_WORKERS"):
            Settings.from_env({"TT_WORKERS": bad})


def test_workers_auto_is_one_per_core_this_process_may_use() -> None:
    cores = len(os.sched_getaffinity(0))
    assert Settings.from_env({"TT_WORKERS": "auto"}).workers == cores
    assert Settings.from_env({"TT_WORKERS": "AUTO"}).workers == cores
