"""Per-role LLM configuration (ppol_nb.llm.config_file): the YAML format and its errors, the shipped recipes,
the precedence of flags over files, and — from two loopback servers' request logs — `ppol-nb evolve` and
`ppol-nb benchmark` sending each role to its own endpoint and model with its own sampling."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from fake_openai_server import FakeOpenAIServer, classify, search_world

from ppol_nb.backends import make_backend
from ppol_nb.cli import main
from ppol_nb.llm import LLMConfig, llm_recipe, load_llm_config
from ppol_nb.llm.config import ROLES
from ppol_nb.llm.config_file import BUILTIN_SAMPLING, LLMConfigFileError, resolve
from ppol_nb.llm.latency import is_latency_probe
from ppol_nb.llm.preflight import is_probe


def _write(tmp_path, text: str, name: str = "llm.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the file format ------------------------------------------------------------------------------------------


def test_a_file_sets_each_role_and_defaults_apply_to_the_rest(tmp_path):
    path = _write(tmp_path, """
defaults: {model: gen-m, base_url: http://127.0.0.1:9/v1, api_key_env: null, prices: {input: 1.0, output: 2.0}}
roles:
  agent: {model: agent-m, base_url: http://127.0.0.1:10/v1, api_key_env: AGENT_KEY, temperature: 0.1,
          max_tokens: 700, extra: {top_k: 20}, prices: {output: 9.5}}
  mutator: {temperature: 0.9}
max_concurrency: 4
""")
    config = load_llm_config(path)
    assert set(config.roles) == set(ROLES) and config.max_concurrency == 4
    agent, user, mutator = config.role("agent"), config.role("user"), config.role("mutator")
    assert (agent.model, agent.base_url, agent.api_key_env, agent.temperature, agent.max_tokens, agent.extra) == (
        "agent-m", "http://127.0.0.1:10/v1", "AGENT_KEY", 0.1, 700, {"top_k": 20})
    assert (agent.price_in_per_mtok, agent.price_out_per_mtok) == (1.0, 9.5)  # field by field over defaults
    assert (user.model, user.base_url, user.api_key_env, user.temperature) == ("gen-m", "http://127.0.0.1:9/v1",
                                                                               None, 0.0)
    assert (mutator.temperature, mutator.max_tokens) == (0.9, 8192)  # the paper's max_tokens stays
    assert config.role("reflection").temperature == 0.25 and config.role("generator").max_tokens == 8000


@pytest.mark.parametrize("text, needles", [
    ("defualts: {model: m}", ["unknown key 'defualts'", "did you mean 'defaults'"]),
    ("roles: {agnet: {model: m}}", ["unknown role 'agnet'", "did you mean 'agent'"]),
    ("roles: {agent: {modle: m}}", ["roles.agent", "unknown field 'modle'", "did you mean 'model'"]),
    ("defaults: {model: m, api_key: sk-abc123}", ["'api_key' would put a secret in the file", "api_key_env"]),
    ("defaults: {model: m, api_key_env: sk-proj-abc.def}", ["NAME of an environment variable", "never put the key"]),
    ("defaults: {model: m, extra: {Authorization: Bearer x}}", ["may not set ['Authorization']"]),
    ("defaults: {model: m, temperature: hot}", ["temperature", "number in [0, 2]"]),
    ("defaults: {model: m, max_tokens: 0}", ["max_tokens", "positive integer"]),
    ("defaults: {model: m, prices: {inpt: 1}}", ["unknown price 'inpt'", "did you mean 'input'"]),
    ("roles: {agent: {model: a}}", ["role 'user' has no model", "--model"]),
    ("- a list", ["expected a mapping"]),
    ("defaults: {model: [unclosed", ["not valid YAML"]),
    ("base: nowhere.yaml", ["nowhere.yaml", "no such file"]),
])
def test_bad_files_are_refused_with_the_key_and_the_fix(tmp_path, text, needles):
    path = _write(tmp_path, text)
    with pytest.raises(LLMConfigFileError) as caught:
        resolve(path)
    message = str(caught.value)
    assert str(path) in message or "role 'user'" in message, message
    for needle in needles:
        assert needle in message, (needle, message)
    assert "sk-abc123" not in message and "sk-proj" not in message  # a key written by mistake is not echoed


def test_base_chains_a_file_onto_a_recipe_and_a_loop_is_refused(tmp_path):
    path = _write(tmp_path, "base: paper\nroles: {agent: {model: mine, base_url: http://localhost:8001/v1}}\n")
    config = resolve(path)
    assert config.role("agent").model == "mine" and config.role("agent").base_url == "http://localhost:8001/v1"
    assert config.role("agent").api_key_env == "OPENROUTER_API_KEY"  # inherited from the recipe's defaults
    assert config.role("mutator").model == "google/gemini-3-flash-preview"
    _write(tmp_path, "base: b.yaml\n", "a.yaml")
    _write(tmp_path, "base: a.yaml\n", "b.yaml")
    with pytest.raises(LLMConfigFileError, match="comes back"):
        resolve(tmp_path / "a.yaml")


def test_the_paper_recipe_matches_the_paper_and_the_code_that_uses_it():
    from ppol_nb.evolution import reflection
    from ppol_nb.evolution.mutation import LLMMutator
    from ppol_nb.personas import toolkit

    config = llm_recipe("paper")
    models = {role: config.role(role).model for role in ROLES}
    # Three models: generator, mutator and reflection on one; the user simulator and the agent each on their own.
    assert models["generator"] == models["mutator"] == models["reflection"] == "google/gemini-3-flash-preview"
    assert models["user"] == "qwen/qwen3-next-80b-a3b-instruct" and models["agent"] == "google/gemma-4-31b-it"
    sampling = {role: (config.role(role).temperature, config.role(role).max_tokens) for role in ROLES}
    assert sampling == {"mutator": (1.0, 8192), "generator": (0.8, 8000), "reflection": (0.25, 2000),
                        "user": (0.0, None), "agent": (0.0, None)}
    assert config.role("mutator").extra == {"reasoning_effort": "minimal"}
    # The built-in defaults are the numbers the code uses when no config names a role.
    import inspect

    mutator_defaults = inspect.signature(LLMMutator).parameters
    assert BUILTIN_SAMPLING["mutator"] == {"temperature": mutator_defaults["temperature"].default,
                                           "max_tokens": mutator_defaults["max_tokens"].default}
    assert BUILTIN_SAMPLING["reflection"] == {"temperature": reflection.TEMPERATURE,
                                              "max_tokens": reflection.MAX_TOKENS}
    assert BUILTIN_SAMPLING["generator"] == {"temperature": toolkit.POPULATION_TEMPERATURE,
                                             "max_tokens": toolkit.POPULATION_MAX_TOKENS}


def test_the_local_recipe_needs_a_model_and_then_puts_every_role_on_localhost():
    with pytest.raises(LLMConfigFileError, match="has no model.*--model"):
        llm_recipe("local")
    config = llm_recipe("local", model="qwen3:8b")
    assert {config.role(r).base_url for r in ROLES} == {"http://localhost:8000/v1"}
    assert {config.role(r).api_key_env for r in ROLES} == {None} and {config.role(r).model for r in ROLES} == {
        "qwen3:8b"}
    with pytest.raises(ValueError, match="unknown recipe 'papr'"):
        llm_recipe("papr")


def test_precedence_per_role_flag_then_file_role_then_flags_then_file_defaults_then_builtin(tmp_path):
    path = _write(tmp_path, """
defaults: {model: file-default, base_url: http://file-default/v1, temperature: 0.5}
roles:
  agent: {model: file-agent}
  user: {base_url: http://file-user/v1}
""")
    config = resolve(path, model="flag-all", base_url="http://flag-all/v1",
                     roles={"agent": {"model": "flag-agent", "base_url": None}, "user": {"api_key_env": "U_KEY"}})
    agent, user, mutator = config.role("agent"), config.role("user"), config.role("mutator")
    assert agent.model == "flag-agent"  # 1. per-role flag beats the file's role
    assert agent.base_url == "http://flag-all/v1"  # 3. the all-role flag beats the file's defaults
    assert user.base_url == "http://file-user/v1"  # 2. the file's role beats the all-role flag
    assert user.model == "flag-all" and user.api_key_env == "U_KEY"
    assert mutator.temperature == 0.5 and mutator.max_tokens == 8192  # 4. file defaults, then 5. built-in
    assert resolve(path, temperature=0.0).role("mutator").temperature == 0.0  # --temperature beats the defaults
    assert resolve(path).role("agent").api_key_env == "OPENAI_API_KEY"  # built-in key variable
    assert resolve(path, api_key_env="").role("agent").api_key_env is None  # --api-key-env '': no key


def test_make_backend_takes_a_config_and_refuses_it_offline(tmp_path):
    path = _write(tmp_path, "defaults: {model: m, base_url: http://127.0.0.1:9/v1, api_key_env: null}\n")
    backend = make_backend("openai", llm_config=str(path), roles={"agent": {"model": "a"}}, cache_path=False)
    assert backend.agent_model == "a" and backend.user_model == "m"
    assert backend.mutator().temperature == 1.0 and backend.reflector().max_tokens == 2000
    with pytest.raises(ValueError, match="backend='openai'"):
        make_backend("offline", llm_config="paper")


def test_cli_refuses_a_missing_file_and_an_offline_backend_with_a_file(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as caught:
        main(["rollout", "--domain", "retail", "--llm-config", str(tmp_path / "none.yaml"), "--out", str(out)])
    assert caught.value.code == 2 and "none.yaml" in capsys.readouterr().err
    code = main(["rollout", "--domain", "retail", "--backend", "offline", "--llm-config", "paper", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "--backend openai" in err and len(err.strip().splitlines()) == 1
    bad = _write(tmp_path, "roles: {agnet: {model: m}}\n")
    code = main(["rollout", "--domain", "retail", "--llm-config", str(bad), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'agent'" in err and "Traceback" not in err
    assert not out.exists()


# -- two endpoints ----------------------------------------------------------------------------------------------


class LoggedServer:
    """A search world on loopback that logs each request's role (read from its prompt), model and sampling."""

    def __init__(self, models) -> None:
        inner, self.log, self._lock = search_world(), [], threading.Lock()

        def respond(request: dict):
            role = "probe" if is_probe(request) else "latency" if is_latency_probe(request) else classify(request)
            entry = {"role": role, "model": request.get("model"),
                     "temperature": request.get("temperature"),
                     "max_tokens": request.get("max_tokens") or request.get("max_completion_tokens")}
            with self._lock:
                self.log.append(entry)
            return inner(request)

        self.server = FakeOpenAIServer(respond, models=list(models)).start()
        self.url = self.server.url

    def take(self) -> list[dict]:
        with self._lock:
            taken, self.log = self.log, []
        return taken

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def two_servers():
    agent = LoggedServer(["agent-m", "agent-b"])
    other = LoggedServer(["gen-m", "user-m"])
    yield agent, other
    agent.stop()
    other.stop()


def _config_file(tmp_path, agent_url: str, other_url: str):
    return _write(tmp_path, f"""
defaults: {{model: gen-m, base_url: {other_url}, api_key_env: null}}
roles:
  user: {{model: user-m, temperature: 0.3, max_tokens: 300}}
  agent: {{model: agent-m, base_url: {agent_url}, temperature: 0.1, max_tokens: 700}}
  mutator: {{temperature: 0.9, max_tokens: 4000}}
  reflection: {{temperature: 0.2, max_tokens: 1500}}
""")


def _by_role(log: list[dict]) -> dict[str, set]:
    out: dict[str, set] = {}
    for entry in log:
        out.setdefault(entry["role"], set()).add((entry["model"], entry["temperature"], entry["max_tokens"]))
    return out


@pytest.fixture(scope="module")
def fitness_dir(tmp_path_factory):
    from ppol_nb.offline.backend import OfflineBackend
    from ppol_nb.studies.baseline import BaselineStudy

    base = tmp_path_factory.mktemp("baseline")
    BaselineStudy(OfflineBackend(), domains=("retail",), limit=6, run_dir=str(base), progress=False).run()
    return base / "fitness" / "retail"


def test_evolve_and_benchmark_send_each_role_to_its_own_endpoint_model_and_sampling(
        tmp_path, two_servers, fitness_dir, capsys):
    from ppol_nb.personas import toolkit

    agent, other = two_servers
    config = _config_file(tmp_path, agent.url, other.url)
    run = tmp_path / "run"
    code = main(["evolve", "--domain", "retail", "--profile", "ci", "--max-iterations", "2", "--train-limit", "10",
                 "--max-steps", "8", "--fitness", str(fitness_dir), "--llm-config", str(config), "--no-cache",
                 "--out", str(run), "--quiet"])
    assert code == 0, capsys.readouterr().err
    at_agent, at_other = _by_role(agent.take()), _by_role(other.take())
    # The agent's endpoint saw the agent, the preflight's tool probe of the agent's model and the estimate's
    # latency probe of that model, and nothing else.
    assert set(at_agent) == {"agent", "probe", "latency"}, at_agent
    assert at_agent["agent"] == {("agent-m", 0.1, 700)} and {m for m, _, _ in at_agent["probe"]} == {"agent-m"}
    assert {m for m, _, _ in at_agent["latency"]} == {"agent-m"}
    # The other endpoint: every other role, each with its model and sampling; no agent request.
    assert "agent" not in at_other and "probe" not in at_other, at_other
    assert {m for m, _, _ in at_other["latency"]} == {"user-m", "gen-m"}, at_other
    assert at_other["user"] == {("user-m", 0.3, 300)}
    assert at_other["mutator"] == {("gen-m", 0.9, 4000)}
    assert at_other["reflection"] == {("gen-m", 0.2, 1500)}
    # Persona generation: the generator's model; the program sets its own sampling per call (the seed program
    # the paper's population and expansion settings).
    generator = at_other["persona_population"] | at_other.get("persona_other", set())
    assert {m for m, _, _ in generator} == {"gen-m"}
    assert ("gen-m", toolkit.POPULATION_TEMPERATURE, toolkit.POPULATION_MAX_TOKENS) in at_other["persona_population"]
    manifest = json.loads((run / "run_manifest.json").read_text())
    roles = manifest["backend"]["roles"]
    assert roles["agent"] == {"model": "agent-m", "base_url": agent.url, "api_key_env": None}
    assert {name: (r["model"], r["base_url"]) for name, r in roles.items() if name != "agent"} == {
        "user": ("user-m", other.url), "generator": ("gen-m", other.url), "mutator": ("gen-m", other.url),
        "reflection": ("gen-m", other.url)}

    out = tmp_path / "bench" / "b.csv"
    code = main(["benchmark", "--run", str(run / "best_program.py"), "--domain", "retail", "--limit", "1",
                 "--n-personas", "2", "--fitness", str(fitness_dir), "--llm-config", str(config),
                 "--agent-model", "agent-b", "--no-cache", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    at_agent, at_other = _by_role(agent.take()), _by_role(other.take())
    assert set(at_agent) <= {"agent", "probe", "latency"} and at_agent["agent"] == {("agent-b", 0.1, 700)}  # the flag won
    assert {m for role, found in at_agent.items() if role != "agent" for m, _, _ in found} <= {"agent-b"}
    assert "agent" not in at_other and at_other["user"] == {("user-m", 0.3, 300)}
    assert {m for m, _, _ in at_other["persona_population"]} == {"gen-m"}
    assert "mutator" not in at_other and "reflection" not in at_other  # a benchmark does not search
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert "agent-b" in json.dumps(sidecar) and agent.url in json.dumps(sidecar)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_an_unreachable_agent_endpoint_is_refused_naming_the_agent_role(tmp_path, two_servers, capsys):
    _, other = two_servers
    dead = _closed_port_url()
    config = _config_file(tmp_path, dead, other.url)
    out = tmp_path / "run"
    code = main(["rollout", "--domain", "retail", "--limit", "1", "--llm-config", str(config), "--no-cache",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "preflight" in err and dead in err and "roles agent" in err, err
    assert "--agent-base-url" in err and len(err.strip().splitlines()) == 1 and not out.exists()
    # The same through the per-role flag instead of the file, with the model the agent's endpoint lacks.
    agent, _ = two_servers
    code = main(["rollout", "--domain", "retail", "--limit", "1", "--llm-config", str(config), "--no-cache",
                 "--agent-base-url", agent.url, "--agent-model", "not-served", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "'not-served' (role agent)" in err and "--agent-model" in err and agent.url in err, err


def test_a_rollout_manifest_records_every_role_with_credentials_scrubbed(tmp_path, two_servers, capsys):
    agent, other = two_servers
    secret_url = agent.url.replace("http://", "http://someone:sekrit-value@")
    config = _config_file(tmp_path, secret_url, other.url)
    out = tmp_path / "run"
    code = main(["rollout", "--domain", "retail", "--limit", "1", "--llm-config", str(config), "--no-cache",
                 "--user-model", "user-m", "--out", str(out), "--quiet"])
    assert code == 0, capsys.readouterr().err
    text = (out / "manifest.json").read_text()
    assert "sekrit-value" not in text
    roles = json.loads(text)["backend"]["roles"]
    assert roles["agent"]["model"] == "agent-m" and roles["agent"]["base_url"].startswith("http://***@127.0.0.1")
    assert roles["user"] == {"model": "user-m", "base_url": other.url, "api_key_env": None}
    assert _by_role(agent.take())["agent"] == {("agent-m", 0.1, 700)}
    assert "agent" not in _by_role(other.take())


@pytest.mark.notebooks
def test_a_notebook_takes_an_llm_config_and_each_role_reaches_its_endpoint(tmp_path, two_servers):
    """papermill -p backend openai -p llm_config FILE: notebook 00's agent requests go to the agent's server,
    the user simulator's to the other, each with its model and sampling; nothing else in the notebook changes."""
    import nbformat

    from ppol_nb.notebooks import run_series
    from ppol_nb.studies.layout import project_root

    agent, other = two_servers
    config = _config_file(tmp_path, agent.url, other.url)
    run_series(project_root() / "notebooks", tmp_path / "executed", only="00_",
               parameters={"backend": "openai", "llm_config": str(config), "domains": ["retail"], "limit": 1,
                           "n_personas": 2, "runs": str(tmp_path / "runs"), "figures": str(tmp_path / "figures")})
    nb = nbformat.read(tmp_path / "executed" / "00_quickstart.ipynb", as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    at_agent, at_other = _by_role(agent.take()), _by_role(other.take())
    assert set(at_agent) == {"agent", "probe"} and at_agent["agent"] == {("agent-m", 0.1, 700)}
    assert "agent" not in at_other and at_other["user"] == {("user-m", 0.3, 300)}
    meta = json.loads((tmp_path / "figures" / "00_quickstart_success.json").read_text(encoding="utf-8"))
    assert meta["models"]["agent"] == "agent-m", meta


def test_make_backend_takes_an_llmconfig_built_in_python():
    config = llm_recipe("paper", roles={"agent": {"model": "my-agent", "base_url": "http://localhost:8000/v1",
                                                        "api_key_env": ""}})
    backend = make_backend("openai", llm_config=config, cache_path=False)
    made = backend.client.config
    assert {r: made.role(r).to_dict() for r in ROLES} == {r: config.role(r).to_dict() for r in ROLES}
    assert made.role("agent").api_key_env is None and backend.mutator().max_tokens == 8192


def test_the_notebooks_command_hands_the_file_to_every_notebook(tmp_path, monkeypatch):
    import ppol_nb.notebooks

    seen = {}
    monkeypatch.setattr(ppol_nb.notebooks, "run_series", lambda folder, out, parameters, only: seen.update(parameters))
    path = _write(tmp_path, "base: local\ndefaults: {model: m}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["notebooks", "--llm-config", "llm.yaml", "--only", "00"]) == 0
    assert seen == {"backend": "openai", "llm_config": str(path.resolve())}
    assert main(["notebooks", "--llm-config", "paper", "--parameters", '{"backend": "offline"}']) == 0
    assert seen == {"backend": "offline", "llm_config": "paper"}  # a backend given is kept (and then refused)


def test_a_rollout_whose_agent_alone_is_hosted_asks_for_yes(tmp_path, two_servers, capsys):
    _, other = two_servers
    config = _config_file(tmp_path, "https://api.example.com/v1", other.url)  # the agent leaves this machine
    out = tmp_path / "run"
    code = main(["rollout", "--domain", "retail", "--limit", "1", "--llm-config", str(config), "--out", str(out)])
    assert code == 2 and "--yes" in capsys.readouterr().out and not out.exists()
