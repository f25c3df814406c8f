"""ppol_nb's single LLM layer.

Every role that talks to a model — user simulator, agent, persona generator,
reflection, mutator — goes through :class:`LLMClient`, directly via
:meth:`LLMClient.chat` or, for tau2's own agent and user classes, via the litellm
bridge in :mod:`ppol_nb.simulation.llm_provider` (this package knows nothing of τ²). Configuration is :class:`LLMConfig`
(per-role :class:`RoleConfig`; from a YAML file or a shipped recipe: :func:`load_llm_config`,
:func:`llm_recipe`); accounting is the client's :class:`Ledger`.
"""

from ppol_nb.llm.client import LLMClient
from ppol_nb.llm.config import LLMConfig, RoleConfig
from ppol_nb.llm.config_file import llm_recipe, load_llm_config
from ppol_nb.llm.errors import LLMError
from ppol_nb.llm.ledger import Ledger
from ppol_nb.llm.reply import ChatResult

__all__ = ["ChatResult", "LLMClient", "LLMConfig", "LLMError", "Ledger", "RoleConfig", "llm_recipe", "load_llm_config"]
