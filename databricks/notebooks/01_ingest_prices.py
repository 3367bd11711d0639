# Databricks notebook source
# MAGIC %md
# MAGIC # 01 · Ingest CoinGecko prices into the landing volume (optional)
# MAGIC
# MAGIC Fetches `/coins/markets` for the `assets` parameter and writes the answer as **one JSONL file per
# MAGIC batch** to `/Volumes/<catalog>/<schema>/<volume>/landing/date=YYYY-MM-DD/hour=HH/<batch>.jsonl`,
# MAGIC every record stamped with `ingest_ts` and `ingest_source`: the layout and record shape of the bot's
# MAGIC own ingest (`src/platform/local/landing.ts`), which the pipeline (`02_dlt_pipeline`) reads with
# MAGIC Auto Loader.
# MAGIC
# MAGIC The bot normally ingests itself and uploads the files through the Files API. This notebook is for
# MAGIC workspaces whose serverless egress reaches `api.coingecko.com` (Free Edition limits outbound
# MAGIC traffic to trusted domains, so it may not): its job is created **paused**; unpause it only after a
# MAGIC manual run succeeded, and keep the interval modest (the workspace has a daily quota).
# MAGIC
# MAGIC Parameters: `catalog`, `schema`, `volume` (lower-case identifiers), `assets` (CoinGecko ids,
# MAGIC comma-separated), `api_plan` (`public`, `demo` or `pro`), and for a key `secret_scope` + `secret_key`
# MAGIC (a Databricks secret; the key is never printed).

# COMMAND ----------

import json
import re
import time
import uuid
from datetime import datetime, timezone
from typing import Dict, List, Optional

import requests

dbutils = globals()["dbutils"]  # defined by the Databricks runtime; named here for readers and linters

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
COIN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
ROOT_URL = {"public": "https://api.coingecko.com/api/v3", "demo": "https://api.coingecko.com/api/v3",
            "pro": "https://pro-api.coingecko.com/api/v3"}
KEY_HEADER = {"demo": "x-cg-demo-api-key", "pro": "x-cg-pro-api-key"}
PAGE_SIZE = 250  # CoinGecko's largest page of /coins/markets
TIMEOUT_S = 10
RETRIES = 3
MAX_RETRY_AFTER_S = 60

for name, default in [("catalog", "workspace"), ("schema", "crypto"), ("volume", "landing"),
                      ("assets", "bitcoin,ethereum,solana,cardano,dogecoin"), ("api_plan", "public"),
                      ("secret_scope", ""), ("secret_key", "")]:
    dbutils.widgets.text(name, default)


def widget(name: str) -> str:
    return dbutils.widgets.get(name).strip()


problems: List[str] = []
names = {n: widget(n) for n in ("catalog", "schema", "volume")}
for n, value in names.items():
    if not IDENTIFIER.match(value):
        problems.append(f"{n} {value!r} must be lower-case letters, digits and _ (at most 64)")
assets = sorted({a.strip() for a in widget("assets").split(",") if a.strip()})
bad_assets = [a for a in assets if not COIN_ID.match(a)]
if not assets or bad_assets:
    bad = ", ".join(bad_assets) or "none given"
    problems.append(f"assets must list CoinGecko coin ids, comma-separated (bad: {bad})")
plan = widget("api_plan") or "public"
if plan not in ROOT_URL:
    problems.append(f"api_plan {plan!r} must be public, demo or pro")
if problems:
    raise ValueError("Bad job parameters: " + "; ".join(problems))

api_key: Optional[str] = None
if widget("secret_scope") and widget("secret_key"):
    api_key = dbutils.secrets.get(widget("secret_scope"), widget("secret_key"))
if plan == "pro" and not api_key:
    raise ValueError("The CoinGecko Pro plan needs an API key: set secret_scope and secret_key, or api_plan=demo.")
LANDING = f"/Volumes/{names['catalog']}/{names['schema']}/{names['volume']}/landing"

# COMMAND ----------


def get_markets(ids: List[str]) -> List[Dict[str, object]]:
    """One page of /coins/markets; 429 and 5xx are retried with backoff, honouring Retry-After."""
    headers = {"accept": "application/json"}
    if api_key and plan in KEY_HEADER:
        headers[KEY_HEADER[plan]] = api_key
    params = {"vs_currency": "usd", "ids": ",".join(ids), "per_page": PAGE_SIZE, "page": 1, "sparkline": "false"}
    for attempt in range(RETRIES + 1):
        try:
            response = requests.get(
                f"{ROOT_URL[plan]}/coins/markets", params=params, headers=headers, timeout=TIMEOUT_S
            )
        except requests.RequestException as err:
            if attempt == RETRIES:
                raise RuntimeError(
                    f"CoinGecko could not be reached ({type(err).__name__}): serverless egress may not allow "
                    "api.coingecko.com in this workspace; let the bot ingest instead."
                ) from None
            time.sleep(2**attempt)
            continue
        if response.status_code == 200:
            body = response.json()
            if not isinstance(body, list):
                raise RuntimeError("CoinGecko returned an unexpected response for /coins/markets (not a list).")
            return [r for r in body if isinstance(r, dict) and isinstance(r.get("id"), str)]
        retryable = response.status_code == 429 or response.status_code >= 500
        wait = _retry_after(response) or 2**attempt
        if not retryable or attempt == RETRIES or wait > MAX_RETRY_AFTER_S:
            hint = "wait and try again, or set an API key" if response.status_code == 429 else "check the assets"
            raise RuntimeError(f"CoinGecko answered HTTP {response.status_code} for /coins/markets; {hint}.")
        time.sleep(wait)
    raise AssertionError("unreachable")


def _retry_after(response: requests.Response) -> Optional[float]:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


# COMMAND ----------

ingest_ts = datetime.now(timezone.utc)
stamp = ingest_ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ingest_ts.microsecond // 1000:03d}Z"  # as JS toISOString
records: List[Dict[str, object]] = []
for start in range(0, len(assets), PAGE_SIZE):
    records.extend(get_markets(assets[start:start + PAGE_SIZE]))
unknown = sorted(set(assets) - {str(r["id"]) for r in records})
if unknown:
    print(f"CoinGecko does not know {', '.join(unknown)}; skipping them (check the assets parameter)")

# COMMAND ----------

# One file per batch, named like the bot's landing files (landingName in src/platform/local/landing.ts):
# date=YYYY-MM-DD/hour=HH/<compact UTC stamp>-<seq>-<source>-<random>.jsonl; names sort in write order.
compact = stamp.replace("-", "").replace(":", "").replace(".", "")
relative = f"date={stamp[:10]}/hour={stamp[11:13]}/{compact}-000-coingecko-{uuid.uuid4().hex[:8]}.jsonl"
body = "".join(  # JSON.stringify's compact form, one record a line
    json.dumps({**r, "ingest_ts": stamp, "ingest_source": "coingecko"}, separators=(",", ":"), ensure_ascii=False)
    + "\n"
    for r in records
)
if records:
    path = f"{LANDING}/{relative}"
    dbutils.fs.mkdirs(path.rsplit("/", 1)[0])
    # The whole batch is written by one call and appears complete: a volume is object storage, where a
    # file becomes visible when it is closed, so Auto Loader never reads part of a batch.
    with open(path, "x", encoding="utf8") as handle:
        handle.write(body)
    print(f"ingest: {len(records)} records in 1 file from CoinGecko → {relative}")
else:
    print("ingest: CoinGecko returned no records; nothing was written")

dbutils.notebook.exit(json.dumps({"records": len(records), "file": relative if records else None, "unknown": unknown}))
