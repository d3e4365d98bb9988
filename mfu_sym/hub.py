"""Model configs from the Hugging Face hub: a repo id (`owner/name`) resolves to the
repository's config.json through `huggingface_hub` (imported here, on first use, never at
start-up). Only config.json is fetched, never weights; the local cache
(HF_HUB_CACHE / HF_HOME) and offline mode (HF_HUB_OFFLINE=1) are honoured exactly as
huggingface_hub honours them, and each of its failures becomes one ConfigError naming
the repo id."""

import re

from .errors import ConfigError

# Hugging Face's repo-id rules (huggingface_hub.utils.validate_repo_id) with the owner
# required: word characters, '-' and '.', neither '--' nor '..', no '-' or '.' at either
# end of a part, a name of at most 96 characters, not ending in '.git'.
_PART = r"\w(?:[\w.-]*\w)?"
_REPO_ID = re.compile(rf"(?!.*(?:--|\.\.))({_PART})/({_PART})", re.ASCII)
_FILE_SUFFIXES = (".json", ".yaml", ".yml")
OFFLINE = "not in the local Hugging Face cache and the hub is offline (HF_HUB_OFFLINE)"


def is_repo_id(text):
    """True when `text` has the form of a hub repo id, owner/name."""
    match = _REPO_ID.fullmatch(text) if isinstance(text, str) else None
    return bool(match) and len(match.group(2)) <= 96 and not text.endswith(".git")


def names_hub_model(text):
    """True when MODEL `text` (no existing path) is read from the hub: a repo id that is
    not spelled as a model file (dir/model.yaml, dir/config.json is a mistyped path, not
    a repository: no such file, and no network call)."""
    return is_repo_id(text) and not text.lower().endswith(_FILE_SUFFIXES)


def config_path(repo_id, revision=None):
    """The local path of the config.json of hub repository `repo_id` at `revision` (a
    branch, tag or commit; default main), downloaded into the cache if it is not there."""
    import huggingface_hub
    hub_errors = _Errors()

    def fail(message, field=None):
        return ConfigError(repo_id, field, message)

    at = f" at revision {revision!r}" if revision is not None else ""
    try:
        return huggingface_hub.hf_hub_download(repo_id, "config.json", revision=revision)
    except hub_errors.LocalEntryNotFoundError:  # not cached, and offline or unreachable
        if _offline():
            raise fail(OFFLINE + (f" (revision {revision!r})" if revision is not None else "")) from None
        raise fail(f"not in the local Hugging Face cache{at}, and the hub could not be reached "
                   "(a network error; set HF_HUB_OFFLINE=1 to use the cache only)") from None
    except hub_errors.GatedRepoError:  # before RepositoryNotFoundError, its base class
        raise fail("a gated repository: accept its terms on its hub page, then log in (`hf auth login` "
                   "or HF_TOKEN)") from None
    except hub_errors.RepositoryNotFoundError:
        raise fail("no such repository on the Hugging Face hub, or a private one (log in with "
                   "`hf auth login` or HF_TOKEN to read a private repository)") from None
    except hub_errors.RevisionNotFoundError:
        raise fail(f"no revision {revision!r} in this repository (expected a branch, tag or commit)",
                   "revision") from None
    except hub_errors.EntryNotFoundError:
        raise fail(f"the repository has no config.json{at} (mfu-sym reads a model's config.json)") from None
    except hub_errors.OfflineModeIsEnabled:
        raise fail(OFFLINE) from None
    except hub_errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        raise fail(f"the Hugging Face hub refused the download{f' (HTTP {status})' if status else ''}: "
                   f"{_first_line(exc)}") from None
    except hub_errors.HFValidationError as exc:
        raise fail(f"not a valid Hugging Face repo id or revision: {_first_line(exc)}") from None
    except OSError as exc:  # network errors (httpx's and requests' derive from OSError or are wrapped)
        raise fail(f"cannot read it from the Hugging Face hub: {_first_line(exc)}") from None
    except Exception as exc:  # any other failure of the download, named rather than a traceback
        raise fail(f"cannot read it from the Hugging Face hub ({type(exc).__name__}: {_first_line(exc)})") from None


class _Errors:
    """huggingface_hub's exception classes by name, from huggingface_hub.errors (0.24 on) or
    huggingface_hub.utils (before); one a version lacks matches nothing."""

    def __getattr__(self, name):
        import importlib
        for module in ("huggingface_hub.errors", "huggingface_hub.utils"):
            try:
                found = getattr(importlib.import_module(module), name, None)
            except ImportError:
                found = None
            if isinstance(found, type) and issubclass(found, BaseException):
                return found
        return ()  # `except ():` catches nothing


def _offline():
    from huggingface_hub import constants
    check = getattr(constants, "is_offline_mode", None)
    return bool(check() if check is not None else getattr(constants, "HF_HUB_OFFLINE", False))


def _first_line(exc):
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
