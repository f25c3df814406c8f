"""The LLM layer's YAML file, the shipped recipes, and how flags layer on top of them.

The paper runs three models with their own sampling (Persona Policies, §4 and
App. B; the authors' code): the generator, mutator and reflection on one model,
the user simulator on a second, the agent on a third. One file says that::

    base: paper                # optional: a shipped recipe or another file to start from
    defaults:                  # applied to every role
      base_url: http://localhost:8000/v1
      api_key_env: null        # the NAME of the variable holding the key; null: no key
    roles:                     # user, agent, generator, mutator, reflection
      agent: {model: my-agent, base_url: http://gpu-box:8001/v1, temperature: 0.0}
      mutator: {temperature: 1.0, max_tokens: 8192, extra: {reasoning_effort: minimal},
                prices: {input: 0.5, output: 3.0}}   # USD per 1M tokens
    max_concurrency: 32        # optional LLM-layer settings: timeout_s, max_retries, ...

Guarantees:

* a key never sits in the file: ``api_key:`` (or a key-looking ``api_key_env``
  value, or an ``Authorization`` field in ``extra``) is refused with a message,
  as is an unknown key or role (with a did-you-mean);
* every role is resolved field by field, first hit wins (docs/llm-config.md):
  **per-role flag** (``--agent-model`` ...) > **the file's role** > **the
  all-role flags** (``--model``, ``--base-url``, ``--api-key-env``,
  ``--temperature``) > **the file's defaults** > **built-in** (the paper's
  sampling per role, :data:`BUILTIN_SAMPLING`; key variable ``OPENAI_API_KEY``);
* the result names every role of :data:`ROLES` explicitly, so a manifest and a
  run's identity record each role's model, endpoint and sampling.

The generator role's temperature and max_tokens are the fallback for calls that
set none: a generator program (and DP) sets its own per call — population 0.8 /
8,000 tokens, expansion 0.7 / 800 in the seed program — because that sampling
is part of what evolves (``ppol_nb.worlds.llm.LLMGeneratorWorld``).
"""

from __future__ import annotations

import copy
import difflib
import re
from importlib import resources
from pathlib import Path
from typing import Any

from .config import ROLES, LLMConfig, RoleConfig

RECIPES = ("paper", "local")

ROLE_KEYS = ("model", "base_url", "api_key_env", "temperature", "max_tokens", "top_p", "extra", "prices")
PRICE_KEYS = ("input", "output")
SETTINGS_KEYS = ("max_concurrency", "max_retries", "timeout_s", "backoff_base_s", "backoff_max_s")
TOP_KEYS = ("base", "defaults", "roles", *SETTINGS_KEYS)

# The authors' per-role sampling ([code] of the paper; App. B): what a role gets when neither a flag nor a file
# says otherwise. ppol_nb.evolution.mutation / .reflection and ppol_nb.personas.toolkit hold the same numbers.
BUILTIN_SAMPLING: dict[str, dict[str, Any]] = {
    "user": {"temperature": 0.0},
    "agent": {"temperature": 0.0},
    "generator": {"temperature": 0.8, "max_tokens": 8000},  # population step; programs set theirs per call
    "mutator": {"temperature": 1.0, "max_tokens": 8192},
    "reflection": {"temperature": 0.25, "max_tokens": 2000},
}
BUILTIN_KEY_ENV = "OPENAI_API_KEY"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_NAMES = {"api_key", "apikey", "key", "token", "authorization", "password", "secret"}


class LLMConfigFileError(ValueError):
    """A config file (or recipe) that cannot be used; the message names the file, the key and the fix."""


def _hint(key: str, known) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _refuse_unknown(where: str, data: dict, known, what: str) -> None:
    for key in data:
        if str(key).lower() in _SECRET_NAMES:
            raise LLMConfigFileError(
                f"{where}: {key!r} would put a secret in the file; name the environment variable that holds "
                f"it instead, e.g. api_key_env: OPENAI_API_KEY (then export OPENAI_API_KEY=...)")
        if key not in known:
            raise LLMConfigFileError(f"{where}: unknown {what} {key!r}{_hint(key, known)}; "
                                     f"expected one of: {', '.join(known)}")


def _check_role_fields(where: str, fields: Any) -> dict:
    """One role's (or the defaults') fields, checked; returned in RoleConfig's names."""
    if fields is None:
        return {}
    if not isinstance(fields, dict):
        raise LLMConfigFileError(f"{where}: expected a mapping of {', '.join(ROLE_KEYS)}, "
                                 f"got {type(fields).__name__}")
    _refuse_unknown(where, fields, ROLE_KEYS, "field")
    out: dict[str, Any] = {}
    for key, value in fields.items():
        at = f"{where}.{key}"
        if key in ("model", "base_url"):
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise LLMConfigFileError(f"{at}: expected a non-empty string, got {value!r}")
            out[key] = value
        elif key == "api_key_env":
            out[key] = _key_env(at, value)
        elif key in ("temperature", "top_p"):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 <= value <= 2):
                raise LLMConfigFileError(f"{at}: expected a number in [0, 2], got {value!r}")
            out[key] = None if value is None else float(value)
        elif key == "max_tokens":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise LLMConfigFileError(f"{at}: expected a positive integer, got {value!r}")
            out[key] = value
        elif key == "extra":
            if not isinstance(value, dict):
                raise LLMConfigFileError(f"{at}: expected a mapping of request-body fields, got {value!r}")
            try:
                RoleConfig(model="check", extra=value)
            except ValueError as exc:
                raise LLMConfigFileError(f"{at}: {exc}") from None
            out[key] = dict(value)
        elif key == "prices":
            if not isinstance(value, dict):
                raise LLMConfigFileError(f"{at}: expected {{input: USD, output: USD}} per 1M tokens, got {value!r}")
            _refuse_unknown(at, value, PRICE_KEYS, "price")
            for name, usd in value.items():
                if isinstance(usd, bool) or not isinstance(usd, (int, float)) or usd < 0:
                    raise LLMConfigFileError(f"{at}.{name}: expected USD per 1M tokens (>= 0), got {usd!r}")
            if "input" in value:
                out["price_in_per_mtok"] = float(value["input"])
            if "output" in value:
                out["price_out_per_mtok"] = float(value["output"])
    return out


def _key_env(where: str, value: Any) -> str | None:
    """A variable's name (or None/'' for no key); anything that looks like a key itself is refused."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        shown = "a non-string" if not isinstance(value, str) else f"a value of {len(value)} characters"
        raise LLMConfigFileError(
            f"{where}: expected the NAME of an environment variable (letters, digits, _), got {shown}; "
            "never put the key itself in the file: export it, e.g. export MY_KEY=..., and write api_key_env: MY_KEY")
    return value


def read_layers(source: Any, _seen: tuple = ()) -> dict:
    """The checked content of a recipe name, a YAML path or a mapping: ``{"defaults", "roles", "settings"}``.

    ``base:`` is read first and this file's keys override it (role by role, field by field).
    """
    import yaml

    where, folder = "LLM config", None
    if isinstance(source, (str, Path)):
        path, where = _locate(source)
        if str(path) in _seen:
            raise LLMConfigFileError(f"{where}: the 'base' chain comes back to {path}")
        folder = path.parent if isinstance(path, Path) else None
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise LLMConfigFileError(f"{where}: no such file (nor a recipe name: {', '.join(RECIPES)})") from None
        except OSError as exc:
            raise LLMConfigFileError(f"{where}: cannot be read ({exc.strerror or exc})") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise LLMConfigFileError(f"{where}: not valid YAML ({' '.join(str(exc).split())[:200]})") from None
        _seen = (*_seen, str(path))
    else:
        data = copy.deepcopy(source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LLMConfigFileError(f"{where}: expected a mapping with defaults: and roles:, got {type(data).__name__}")
    _refuse_unknown(where, data, TOP_KEYS, "key")
    layers = {"defaults": {}, "roles": {}, "settings": {}}
    if data.get("base") is not None:
        base = data["base"]
        if not isinstance(base, str):
            raise LLMConfigFileError(f"{where}: base: expected a recipe name ({', '.join(RECIPES)}) or a path")
        if base not in RECIPES and folder is not None and not Path(base).expanduser().is_absolute():
            base = str(folder / base)  # relative to the file that names it
        try:
            layers = read_layers(base, _seen)
        except LLMConfigFileError as exc:
            raise LLMConfigFileError(f"{where}: base: {exc}") from None
    layers["defaults"].update(_check_role_fields(f"{where}: defaults", data.get("defaults")))
    roles = data.get("roles") or {}
    if not isinstance(roles, dict):
        raise LLMConfigFileError(f"{where}: roles: expected a mapping of role names ({', '.join(ROLES)})")
    for role, fields in roles.items():
        if role not in ROLES:
            raise LLMConfigFileError(f"{where}: unknown role {role!r}{_hint(role, ROLES)}; "
                                     f"the roles are: {', '.join(ROLES)}")
        layers["roles"].setdefault(role, {}).update(_check_role_fields(f"{where}: roles.{role}", fields))
    for key in SETTINGS_KEYS:
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise LLMConfigFileError(f"{where}: {key}: expected a non-negative number, got {value!r}")
            layers["settings"][key] = value
    return layers


def _locate(source: str | Path):
    """A recipe's packaged file or a path, and how to name it in a message."""
    if isinstance(source, str) and source in RECIPES:
        return resources.files("ppol_nb.llm") / "recipes" / f"{source}.yaml", f"recipe {source!r}"
    path = Path(source).expanduser()
    return path.resolve(), str(path)


def _merged_extra(*dicts) -> dict:
    out: dict = {}
    for d in dicts:
        out.update(d.get("extra") or {})
    return out


def resolve(source: Any = None, *, model: str | None = None, base_url: str | None = None,
            api_key_env: str | None = None, temperature: float | None = None,
            roles: dict[str, dict] | None = None, **llm_settings: Any) -> LLMConfig:
    """An openai :class:`LLMConfig` naming every role, from a file/recipe and flags (module docstring's order).

    ``source``: a recipe name, a YAML path, a mapping in the file's format, or None.
    ``model``/``base_url``/``api_key_env``/``temperature``: the all-role flags, None when not given
    (``api_key_env=''``: no key). ``roles``: per-role flags, ``{"agent": {"model": ..., "base_url": ...,
    "api_key_env": ...}}`` (None values are not given). ``llm_settings``: LLMConfig fields (cache_path,
    max_concurrency, timeout_s, max_retries) that win over the file's.
    """
    layers = read_layers(source) if source is not None else {"defaults": {}, "roles": {}, "settings": {}}
    flags = {k: v for k, v in {"model": model, "base_url": base_url, "temperature": temperature}.items()
             if v is not None}
    if api_key_env is not None:
        flags["api_key_env"] = _key_env("--api-key-env", api_key_env)
    per_role: dict[str, dict] = {}
    for role, given in (roles or {}).items():
        if role not in ROLES:
            raise LLMConfigFileError(f"unknown role {role!r}{_hint(role, ROLES)}; the roles are: {', '.join(ROLES)}")
        given = {k: v for k, v in given.items() if v is not None}
        if "api_key_env" in given:
            given["api_key_env"] = _key_env(f"--{role}-api-key-env", given["api_key_env"])
        per_role[role] = given
    origin = f" in {source}" if source is not None else ""

    def one(role: str | None) -> RoleConfig | None:
        chain = [per_role.get(role, {}), layers["roles"].get(role, {}), flags, layers["defaults"],
                 {"api_key_env": BUILTIN_KEY_ENV, **BUILTIN_SAMPLING.get(role, {})}]
        fields: dict[str, Any] = {}
        for layer in reversed(chain):  # lowest first, each higher layer overwrites
            fields.update({k: v for k, v in layer.items() if k != "extra"})
        fields["extra"] = _merged_extra(*reversed(chain))
        if not fields.get("model"):
            if role is None:
                return None
            raise LLMConfigFileError(
                f"role {role!r} has no model: set defaults.model or roles.{role}.model{origin}, or pass --model"
                + (f" or --{role}-model" if role in ("user", "agent") else ""))
        return RoleConfig(**fields)

    resolved = {role: one(role) for role in ROLES}
    default = one(None) or resolved["generator"]
    settings = {**layers["settings"], **{k: v for k, v in llm_settings.items() if v is not None}}
    if "max_concurrency" in settings:
        settings["max_concurrency"] = int(settings["max_concurrency"])
    if "max_retries" in settings:
        settings["max_retries"] = int(settings["max_retries"])
    return LLMConfig(backend="openai", default=default, roles=resolved, **settings)


def load_llm_config(source: str | Path | dict, **flags: Any) -> LLMConfig:
    """The openai config of a YAML file (or mapping, or recipe name) in this module's format.

    ``flags`` are :func:`resolve`'s (``model=``, ``roles={"agent": {...}}``, ...), layered as the
    CLI's flags are. Every role of :data:`ROLES` is named in ``roles``.
    """
    return resolve(source, **flags)


def llm_recipe(name: str, **flags: Any) -> LLMConfig:
    """A shipped recipe: ``"paper"`` (the authors' three models and per-role sampling) or ``"local"``
    (one server on localhost; name its model with ``model=``). See docs/llm-config.md."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; the recipes are: {', '.join(RECIPES)}")
    return resolve(name, **flags)
