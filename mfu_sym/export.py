"""Moved: the renderers of `derive` are render/text.py and render/json.py, and `exact`
is render/units.py's. This name stays only for planning.py's `from .export import exact`
until that module imports render.units itself."""

from .render.units import exact  # noqa: F401
