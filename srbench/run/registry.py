"""The method registry: names -> factories that build :class:`Method` objects, with metadata.

A method is registered once, with a decorator on its *factory*::

    from srbench import Method, register_method

    @register_method("my-sr", aliases=("mine",), label="MySR", kind="learned",
                     description="my network, weights in ./weights")
    def build(*, device=None):
        return MySR(device)          # a Method subclass

``get_method("my-sr", device="cpu")`` calls the factory with the given
settings; a setting the factory does not take is one :class:`SrbenchError`
naming the ones it does. Registering imports nothing heavy: a factory
imports its network (torch) only when it is called, so
:func:`list_methods` and everything that only needs names and metadata
(``srbench report``, ``srbench --version``) stays fast.

Where the registrations come from, in this order, the first time a name is
looked up:

1. the built-in methods: the package :data:`BUILTIN_PACKAGE` is imported by
   name (the core never imports it statically);
2. the entry-point group :data:`ENTRY_POINT_GROUP` (``srbench.methods``) of
   installed distributions: each entry point names a module (or an object in
   one) whose import registers its methods;
3. the modules named in ``$SRBENCH_PLUGINS`` (comma-separated) and those
   passed to :func:`load_plugins` (the CLI's ``--plugin MODULE``).

*Families* are registered by prefix: ``external:NAME=DIR`` builds a method
from the text after ``external:``. A family's factory is given as
``"module:function"`` and imported only when a member is built.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from srbench.errors import SrbenchError, UnknownMethod

if TYPE_CHECKING:
    import numpy as np

    from srbench.data.set_coverage import CoverageReport

BUILTIN_PACKAGE = "srbench.methods"
ENTRY_POINT_GROUP = "srbench.methods"
PLUGINS_ENV_VAR = "SRBENCH_PLUGINS"
KINDS = ("classic", "learned", "external", "published")
COMMON_SETTINGS = ("checkpoint_root", "device", "tile", "overlap")
"""The settings srbench itself passes to methods (checkpoint-backed methods take all of them)."""


class Method:
    """What every registered factory returns: turns an LR image into a 4x SR image.

    Required: a ``name`` (the registry name used in CSV files) and
    :meth:`upscale`. Everything else has a default that means "nothing to
    say": :meth:`availability` (can run), and the *optional capabilities*
    :meth:`check_coverage` (``None``: the method does not read stored
    results, so there is nothing to check up front),
    :meth:`checkpoint_info` (``None``: no checkpoint),
    :meth:`receptive_radius` (``None``: unknown, never tiled) and
    :meth:`source_info` (``None``: not a set of released images). Callers use
    the return values; they never probe for attributes.
    """

    name: str  # required: set by the subclass (class attribute, dataclass field or in __init__)

    def availability(self) -> str | None:
        """``None`` if the method can run here, else the reason it cannot (e.g. no checkpoint)."""
        return None

    def upscale(self, lr: np.ndarray, *, dataset: str, name: str) -> np.ndarray:
        """uint8 ``(h, w, 3)`` RGB -> uint8 ``(4h, 4w, 3)`` RGB.

        ``dataset``/``name`` (``set5``, ``baby.png``) identify the image; only
        methods reading stored results need them. A method with no output for
        one image raises :class:`srbench.errors.MissingOutput`.
        """
        raise NotImplementedError(f"{type(self).__name__}.upscale")

    def check_coverage(self, datasets: Sequence[str]) -> CoverageReport | None:
        """Optional capability: which of ``datasets``' images the method can provide, checked before a run."""
        return None

    def checkpoint_info(self) -> dict | None:
        """Optional capability: the checkpoint's provenance (sidecar, path, SHA-256) recorded in run.json."""
        return None

    def receptive_radius(self) -> int | None:
        """Optional capability: LR pixels of context on each side that one output pixel depends on.

        ``srbench upscale`` cuts large images into tiles with this much
        context, so that tiling does not change the result. ``None``
        (unknown) means the image is always upscaled whole.
        """
        return None

    def source_info(self) -> dict | None:
        """Optional capability: where stored outputs come from (a release and its manifest), recorded in run.json."""
        return None


@dataclass(frozen=True)
class PaperRow:
    """A row of one of the paper's tables that a method fills: ``table`` 1 or 2, the paper's ``row`` name.

    ``category`` groups Table 1's rows for the significance marks (``SRResNet``, ``SRGAN``).
    """

    table: int
    row: str
    category: str | None = None


@dataclass(frozen=True)
class MethodInfo:
    """A registered method's (or family's) metadata; ``list_methods()`` returns these.

    ``kind``: ``classic`` (no learning), ``learned`` (a network srbench runs),
    ``external`` (ready-made SR images from a folder), ``published`` (the
    authors' released images). ``settings``: the keyword settings the factory
    takes (``None``: any). ``paper_rows``: the paper-table rows it fills.
    For a family (``family=True``, ``name`` is the prefix), ``members`` maps
    well-known member names to the rows they fill; with ``members_in_all``
    those members (``PREFIX:MEMBER``, complete names) are part of
    ``--methods all`` (the ``published:`` family: the authors' images, once
    fetched, run like any method).
    """

    name: str
    aliases: tuple[str, ...] = ()
    label: str = ""
    paper_rows: tuple[PaperRow, ...] = ()
    kind: str = "classic"
    trainable: bool = False
    needs_checkpoint: bool = False
    description: str = ""
    settings: tuple[str, ...] | None = ()
    module: str = ""
    family: bool = False
    members: Mapping[str, tuple[PaperRow, ...]] = field(default_factory=dict)
    usage: str = ""
    """How to name it on the command line: the name, or a family's pattern (``external:NAME=DIR``)."""
    members_in_all: bool = False

    @property
    def paper_name(self) -> str:
        """The name the paper's tables use (its first row's), else the label."""
        return self.paper_rows[0].row if self.paper_rows else self.label


@dataclass
class _Entry:
    info: MethodInfo
    factory: Callable[..., Method] | str  # "module:function" for lazily imported factories


_METHODS: dict[str, _Entry] = {}
_FAMILIES: dict[str, _Entry] = {}
_ALIASES: dict[str, str] = {}
_loaded = False
_loading = False


# ---------------------------------------------------------------- registering
def _settings_of(factory: Callable) -> tuple[str, ...] | None:
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return tuple(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))


def _make_info(name: str, factory, *, family: bool, aliases: Iterable[str], metadata: dict) -> MethodInfo:
    unknown = set(metadata) - {"label", "paper_rows", "kind", "trainable", "needs_checkpoint", "description",
                               "settings", "members", "usage", "members_in_all"}
    if unknown:
        raise TypeError(f"register {name!r}: unknown metadata {', '.join(sorted(unknown))}")
    kind = metadata.get("kind", "classic")
    if kind not in KINDS:
        raise ValueError(f"register {name!r}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if "settings" in metadata:
        settings = None if metadata["settings"] is None else tuple(metadata["settings"])
    else:
        settings = None if isinstance(factory, str) else _settings_of(factory)
    module = factory.split(":", 1)[0] if isinstance(factory, str) else getattr(factory, "__module__", "")
    return MethodInfo(
        name=name, aliases=tuple(a.strip().lower() for a in aliases), label=metadata.get("label") or name,
        paper_rows=tuple(metadata.get("paper_rows", ())), kind=kind,
        trainable=bool(metadata.get("trainable", False)),
        needs_checkpoint=bool(metadata.get("needs_checkpoint", False)),
        description=metadata.get("description", ""), settings=settings, module=module, family=family,
        members=dict(metadata.get("members", {})),
        usage=metadata.get("usage") or (f"{name}:..." if family else name),
        members_in_all=bool(metadata.get("members_in_all", False)),
    )


def register_method(name: str, factory: Callable[..., Method] | None = None, *, aliases: Iterable[str] = (),
                    **metadata):
    """Register ``factory`` (``f(**settings) -> Method``) under ``name``; usable as a decorator.

    Metadata keywords: ``label``, ``paper_rows`` (:class:`PaperRow` s),
    ``kind``, ``trainable``, ``needs_checkpoint``, ``description``,
    ``settings`` (default: the factory's keyword parameters), ``usage``. Names are
    lower case; a name or alias registered twice is an error.
    """
    def add(fn: Callable[..., Method]) -> Callable[..., Method]:
        key = name.strip().lower()
        if not key or ":" in key or "," in key or key == "all":
            raise ValueError(f"invalid method name {name!r} (no ':' or ',', not 'all')")
        info = _make_info(key, fn, family=False, aliases=aliases, metadata=metadata)
        taken = [n for n in (key, *info.aliases) if n in _METHODS or n in _ALIASES]
        if taken:
            owner = _METHODS.get(taken[0]) or _METHODS[_ALIASES[taken[0]]]
            raise ValueError(f"method name {taken[0]!r} of {info.module or '?'} is already registered "
                             f"by {owner.info.module or '?'}")
        _METHODS[key] = _Entry(info, fn)
        for alias in info.aliases:
            _ALIASES[alias] = key
        return fn

    return add if factory is None else add(factory)


def register_family(prefix: str, factory: Callable[..., Method] | str, **metadata) -> None:
    """Register a parametrised family: ``PREFIX:TEXT`` builds ``factory(TEXT, **settings)``.

    ``factory`` may be ``"module:function"``, imported only when a member is
    built. ``members`` (metadata) maps well-known member names to the paper
    rows they fill (``{"selfexsr": (PaperRow(2, "SelfExSR"),)}``); ``usage`` how a member is written
    (``"external:NAME=DIR"``; default ``PREFIX:...``).
    """
    key = prefix.strip().rstrip(":")
    if not key or ":" in key:
        raise ValueError(f"invalid family prefix {prefix!r}")
    if key in _FAMILIES:
        raise ValueError(f"method family {key!r}: is already registered by {_FAMILIES[key].info.module}")
    metadata.setdefault("settings", None if isinstance(factory, str) else _settings_of(factory))
    _FAMILIES[key] = _Entry(_make_info(key, factory, family=True, aliases=(), metadata=metadata), factory)


# ---------------------------------------------------------------- loading
def _import_plugin(module: str, origin: str) -> None:
    if not module.strip():
        raise SrbenchError(f"an empty plugin module name ({origin}); give an importable module, e.g. my_sr_methods")
    try:
        importlib.import_module(module)
    except SrbenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of somebody else's module: one line
        raise SrbenchError(f"cannot load srbench plugin {module!r} ({origin}): {type(exc).__name__}: {exc}") from exc


def _entry_points() -> list:
    from importlib.metadata import entry_points

    seen, out = set(), []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if (ep.name, ep.value) not in seen:  # one distribution found twice on sys.path
            seen.add((ep.name, ep.value))
            out.append(ep)
    return sorted(out, key=lambda ep: (ep.name, ep.value))


def _ensure_loaded() -> None:
    """Import the built-in methods, the entry points and ``$SRBENCH_PLUGINS`` once."""
    global _loaded, _loading
    if _loaded or _loading:
        return
    _loading = True
    try:
        importlib.import_module(BUILTIN_PACKAGE)
        for ep in _entry_points():
            try:
                ep.load()
            except Exception as exc:  # noqa: BLE001
                dist = getattr(getattr(ep, "dist", None), "name", "?")
                raise SrbenchError(f"cannot load the srbench.methods entry point {ep.name} = {ep.value} "
                                   f"(distribution {dist}): {type(exc).__name__}: {exc}") from exc
        load_plugins(_env_plugins(), origin=f"${PLUGINS_ENV_VAR}")
        _loaded = True
    finally:
        _loading = False


def ensure_loaded() -> None:
    """Import the built-in methods, the entry points and ``$SRBENCH_PLUGINS`` once (plugins may add metrics too)."""
    _ensure_loaded()


def _env_plugins() -> list[str]:
    return [m.strip() for m in os.environ.get(PLUGINS_ENV_VAR, "").split(",") if m.strip()]


def load_plugins(modules: Iterable[str], *, origin: str = "--plugin") -> None:
    """Import plugin modules (each registers its methods on import); :class:`SrbenchError` if one fails.

    The built-in methods and the entry points are loaded first, so they keep their names.
    """
    modules = list(modules)
    if modules and origin == "--plugin":
        _ensure_loaded()
    for module in modules:
        if module not in sys.modules:
            _import_plugin(module, origin)


def add_plugin_flag(parser) -> None:
    """Add ``--plugin MODULE`` (repeatable) to an argparse parser; pass ``args.plugin`` to :func:`load_plugins`."""
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE first; it registers more methods (repeatable; "
                             f"also ${PLUGINS_ENV_VAR}=MOD1,MOD2 and installed 'srbench.methods' entry points)")


# ---------------------------------------------------------------- looking up
def _family_of(text: str) -> str | None:
    prefix, sep, _ = text.partition(":")
    return prefix if sep and prefix in _FAMILIES else None


def canonical_name(name: str) -> str:
    """Resolve aliases (``nn`` -> ``nearest``) and check the name exists; family members are kept as given."""
    _ensure_loaded()
    text = name.strip()
    if _family_of(text):
        return text
    key = _ALIASES.get(text.lower(), text.lower())
    if key not in _METHODS:
        raise UnknownMethod(f"unknown method {name!r}; {known_names()}")
    return key


def known_names() -> str:
    """One line naming every registered method, alias and family pattern (for error messages)."""
    _ensure_loaded()
    text = f"registered: {', '.join(_METHODS)}"
    if _ALIASES:
        text += "; aliases: " + ", ".join(f"{a} = {k}" for a, k in _ALIASES.items())
    if _FAMILIES:
        text += "; families: " + ", ".join(e.info.usage for e in _FAMILIES.values())
    return text


def is_registered(name: str) -> bool:
    """True if ``name`` (or an alias spelled that way) is a registered method (not a family member)."""
    _ensure_loaded()
    key = name.strip().lower()
    return _ALIASES.get(key, key) in _METHODS


def method_key(name: str) -> str:
    """The key that matches a method across runs, ratings and tables.

    Lower case; aliases resolved (``nn`` -> ``nearest``); a family member's
    parameter dropped (``external:NAME=DIR`` -> ``external:name``). Unknown
    names are kept (lower-cased): a CSV may hold methods of a plugin that is
    not installed here.
    """
    key = str(name).strip().lower()
    if ":" in key:
        return key.split("=", 1)[0]
    _ensure_loaded()
    return _ALIASES.get(key, key)


def _check_settings(info: MethodInfo, config: Mapping) -> None:
    if info.settings is None:
        return
    unknown = sorted(set(config) - set(info.settings))
    if unknown:
        accepted = ", ".join(info.settings) if info.settings else "none"
        raise SrbenchError(f"method {info.name}{':' if info.family else ''} takes no setting "
                           f"{', '.join(unknown)} (accepted: {accepted})")


def _resolve(factory: Callable[..., Method] | str) -> Callable[..., Method]:
    if not isinstance(factory, str):
        return factory
    module, _, attr = factory.partition(":")
    return getattr(importlib.import_module(module), attr)


def get_method(name: str, **config) -> Method:
    """Build the method registered as ``name`` (an alias, or a family member such as ``external:NAME=DIR``).

    ``config`` holds settings for the factory (``checkpoint_root``,
    ``device``, ``tile``, ...); a setting it does not take is an error naming
    the accepted ones.
    """
    key = canonical_name(name)
    family = _family_of(key)
    entry = _FAMILIES[family] if family else _METHODS[key]
    _check_settings(entry.info, config)
    factory = _resolve(entry.factory)
    method = factory(key[len(family) + 1:], **config) if family else factory(**config)
    if not isinstance(method, Method):
        raise SrbenchError(f"the factory of method {key} ({entry.info.module}) returned a "
                           f"{type(method).__name__}, not a srbench.Method")
    return method


def method_info(name: str) -> MethodInfo:
    """The metadata of a registered method or alias, or of the family of ``PREFIX:...``."""
    key = canonical_name(name)
    family = _family_of(key)
    return _FAMILIES[family].info if family else _METHODS[key].info


def _builtin_first(entries: Iterable[_Entry]) -> list[MethodInfo]:
    infos = [e.info for e in entries]
    return sorted(infos, key=lambda i: not i.module.startswith(BUILTIN_PACKAGE + "."))  # stable: keeps the order


def list_methods(*, families: bool = False) -> list[MethodInfo]:
    """Every registered method's metadata: built-ins first, each group in registration order; then families."""
    _ensure_loaded()
    infos = _builtin_first(_METHODS.values())
    return infos + _builtin_first(_FAMILIES.values()) if families else infos


def all_method_names() -> list[str]:
    """What ``--methods all`` names: every registered method, in registration order, then the members
    of families registered with ``members_in_all`` (``published:srgan-vgg54``)."""
    names = [info.name for info in list_methods()]
    for info in list_methods(families=True):
        if info.family and info.members_in_all:
            names += [f"{info.name}:{member}" for member in info.members]
    return names


def settings_for(name: str, config: Mapping) -> dict:
    """The part of ``config`` that the method ``name`` takes (for a run sharing settings between methods)."""
    info = method_info(name)
    if info.settings is None:
        return dict(config)
    return {k: v for k, v in config.items() if k in info.settings}


def _unregister(name: str) -> None:
    """Remove a registration (tests register SYNTHETIC methods and clean up after themselves)."""
    entry = _METHODS.pop(name, None) or _FAMILIES.pop(name, None)
    if entry is not None:
        for alias in entry.info.aliases:
            _ALIASES.pop(alias, None)


__all__ = ["Method", "MethodInfo", "PaperRow", "register_method", "register_family", "get_method", "list_methods",
           "method_info", "canonical_name", "method_key", "load_plugins", "all_method_names"]
