"""A client's settings, resolved once from options and the environment, and checked."""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Callable, Mapping
from typing import Any, Literal, NamedTuple, get_args

import httpx

from ._retry import DEFAULT_MAX_RETRIES
from ._secrets import SecretKey
from ._values import check_headers, check_max_retries, check_seconds, check_timeout
from ._version import __version__

API_KEY_ENV = "CONVOKIT_SECRET_KEY"
BASE_URL_ENV = "CONVOKIT_BASE_URL"
DEFAULT_BASE_URL = "https://api.convokit.dev"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
HttpBackend = Literal["httpx", "aiohttp"]
"""What the async client sends through (`http_backend`): httpx, the default, or aiohttp
(the `convokit-server[aiohttp]` extra); the sync client sends through httpx."""
HTTP_BACKENDS: tuple[HttpBackend, ...] = get_args(HttpBackend)

USER_AGENT = f"convokit-python/{__version__}"


@functools.cache
def sdk_headers() -> Mapping[str, str]:
    """What the SDK says about itself on every request (with the body's Content-Type, when
    there is a body). `default_headers`, then a call's `extra_headers`, replace any of them."""
    import platform  # with the first request: 1-2 ms that `import convokit` need not pay

    runtime = (
        f"{platform.python_implementation()}/{platform.python_version()} "
        f"({platform.system()}; {platform.machine()})"
    )
    return {"User-Agent": USER_AGENT, "X-ConvoKit-Client-Runtime": runtime}


def layer_headers(under: Mapping[str, str], over: Mapping[str, str]) -> dict[str, str]:
    """`under` with `over` on top. Header names are case-insensitive: a name in `over`
    replaces every spelling of it in `under`, so no header is ever sent twice."""
    replaced = {name.lower() for name in over}
    layered = {name: value for name, value in under.items() if name.lower() not in replaced}
    layered.update(over)
    return layered


class ClientConfig(NamedTuple):
    """Everything a client needs to send a request, already checked."""

    # A NamedTuple, not attrs: `import convokit` does not import attrs (the generated
    # models do, on the first call), which saves a tenth of its import time.
    api_key: SecretKey
    base_url: str
    timeout: httpx.Timeout | None
    total_timeout: float | None
    max_retries: int
    default_headers: Mapping[str, str]
    allow_insecure: bool
    proxy: httpx.Proxy | None
    http_backend: HttpBackend
    base_headers: dict[str | None, Mapping[str, str]]
    """sdk_headers() and a body's Content-Type under default_headers, by content type:
    merged once per client (by request_headers()), not on every call."""

    def request_headers(
        self, content_type: str | None, extra_headers: Mapping[str, str]
    ) -> dict[str, str]:
        """A request's headers: the SDK's < default_headers < `extra_headers` (names
        compared case-insensitively), and the key's Authorization, which nothing replaces."""
        base = self.base_headers.get(content_type)
        if base is None:
            own = (
                sdk_headers()
                if content_type is None
                else {"Content-Type": content_type, **sdk_headers()}
            )
            base = self.base_headers[content_type] = layer_headers(own, self.default_headers)
        if extra_headers:
            base = layer_headers(base, extra_headers)
        # The key stays in SecretKey alone: its header is built per request, never cached.
        return {**base, "Authorization": self.api_key.authorization()}


def resolve_config(options: Mapping[str, Any]) -> ClientConfig:
    """ClientConfig from create_client() options (by Python name) and the environment."""
    given = {**_DEFAULTS, **options}
    fields = {name: check(given.get(name)) for name, check in _CHECKS.items()}
    fields["base_url"] = _base_url(given.get("base_url"), fields["allow_insecure"])
    return ClientConfig(**fields, base_headers={})


def updated_config(config: ClientConfig, options: Mapping[str, Any]) -> ClientConfig:
    """`config` with the options given replaced; every other option is kept as it was."""
    changes = {name: check(options[name]) for name, check in _CHECKS.items() if name in options}
    if "base_url" in options or "allow_insecure" in options:
        # Checked again either way: allow_insecure=False must not keep an http:// URL.
        changes["base_url"] = _base_url(
            options.get("base_url", config.base_url),
            changes.get("allow_insecure", config.allow_insecure),
        )
    if "default_headers" in changes:
        changes["default_headers"] = layer_headers(
            config.default_headers, changes["default_headers"]
        )
    return config._replace(**changes, base_headers={})


def _proxy(value: object) -> httpx.Proxy | None:
    """The `proxy` option: None (the environment's HTTPS_PROXY etc. apply), or a proxy URL
    (http, https, or socks5 with httpx's socks extra)."""
    if value is None or isinstance(value, httpx.Proxy):
        return value
    if not isinstance(value, str | httpx.URL):
        raise TypeError(f"'proxy' must be a URL string or an httpx.Proxy, got {type(value)}")
    try:
        proxy = httpx.Proxy(value)
    except (httpx.InvalidURL, ValueError) as error:
        # The URL may carry the proxy's password: name only what is wrong.
        raise ValueError(
            f"'proxy' must be an http://, https:// or socks5:// URL ({type(error).__name__})"
        ) from None
    return proxy


def _http_backend(value: object) -> HttpBackend:
    for backend in HTTP_BACKENDS:
        if value == backend:
            return backend
    names = " or ".join(map(repr, HTTP_BACKENDS))
    raise ValueError(f"'http_backend' must be {names}, got {value!r}")


def _api_key(value: object) -> SecretKey:
    if value is None:
        value = os.environ.get(API_KEY_ENV)
        if value is None:
            raise ValueError(
                f"No ConvoKit API key: pass create_client('sk_live_...') or set the "
                f"{API_KEY_ENV} environment variable to your secret key."
            )
    if not isinstance(value, str):
        raise TypeError(f"The API key must be a string, got {type(value).__name__}")
    # Messages below never include the key: they may end up in logs or error trackers.
    if not value:
        raise ValueError(f"The API key is empty: set {API_KEY_ENV} to your secret key.")
    if any(char.isspace() or not char.isprintable() for char in value):
        raise ValueError(
            "The API key contains whitespace or control characters; "
            "copy it again without spaces or line breaks."
        )
    if value.startswith("pk_"):
        raise ValueError(
            "That is a public key (pk_...). Public keys are for the browser widget "
            "(@convokit/widget) and are safe to expose; this server SDK needs your secret "
            "key (sk_live_... or sk_test_...), which must stay on your server."
        )
    if not value.startswith("sk_"):
        raise ValueError(
            "That does not look like a ConvoKit secret key: it should start with "
            "sk_live_ or sk_test_."
        )
    return SecretKey(value)


def _base_url(value: object, allow_insecure: bool) -> str:
    if value is None:
        value = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    if not isinstance(value, str | httpx.URL):
        raise TypeError(f"'base_url' must be a string, got {type(value).__name__}")
    try:
        url = httpx.URL(str(value))
    except httpx.InvalidURL as error:
        raise ValueError(f"'base_url' is not a valid URL: {error}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"'base_url' must be an http(s) URL with a host, got {str(value)!r}")
    if url.scheme == "http" and not allow_insecure and not is_loopback(url.host):
        raise ValueError(
            f"Refusing plain http:// to {url.host}: the secret key would cross the network "
            "unencrypted. Use https://, or pass allow_insecure=True if you really mean it "
            "(e.g. a TLS-terminating proxy on a private network)."
        )
    if url.query or url.fragment:
        raise ValueError("'base_url' must not have a query or fragment")
    return str(url).rstrip("/")


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_DEFAULTS = {
    "timeout": DEFAULT_TIMEOUT,
    "max_retries": DEFAULT_MAX_RETRIES,
    "http_backend": "httpx",
}
# Each option's check, which makes its ClientConfig field (base_url also needs
# allow_insecure); an option left out is checked as None, or as its default above.
_CHECKS: Mapping[str, Callable[[Any], Any]] = {
    "api_key": _api_key,
    "allow_insecure": bool,
    "timeout": lambda value: check_timeout("timeout", value),
    "total_timeout": lambda value: None if value is None else check_seconds("total_timeout", value),
    "max_retries": check_max_retries,
    "default_headers": lambda value: check_headers("default_headers", value or {}),
    "proxy": _proxy,
    "http_backend": _http_backend,
}
