"""Point a ccxt exchange at another host (a local exchange server): its API URLs with scheme and host replaced."""

from __future__ import annotations

from urllib.parse import urlsplit

from trimtab.errors import ConfigError


def api_urls(exchange_id: str, base_url: str, *, field: str = "url") -> dict[str, str]:
    """ccxt `urls['api']` of `exchange_id` with scheme and host replaced by `base_url` (paths kept)."""
    import ccxt

    target = urlsplit(base_url)
    if not target.scheme or not target.netloc:
        raise ConfigError("must be a URL like http://127.0.0.1:8080", field=field)
    factory = getattr(ccxt, exchange_id, None) if exchange_id in ccxt.exchanges else None
    if factory is None:
        raise ConfigError(f"unknown ccxt exchange {exchange_id!r}", field=field)
    api = factory().urls.get("api")
    entries = api.items() if isinstance(api, dict) else [("public", api), ("private", api)]
    return {
        key: f"{target.scheme}://{target.netloc}{urlsplit(url).path}" for key, url in entries if isinstance(url, str)
    }
