"""The explicit latent code of the default portrait generator: W holds the renderer's parameters.

The default generator is a plain StyleGAN2 whose mapping network is *constructed*, not
learned: it computes, exactly, an explicit code of every parameter the portrait renderer
takes, and the synthesis network is trained to paint what the renderer paints for that code
(``stylepaint.training.decoder``). Each attribute group and each nuisance reads one
coordinate of the normalised latent ``x = z / rms(z)`` (StyleGAN2's first mapping step):

* a **categorical** (an attribute group, or a discrete nuisance such as the lipstick shade)
  cuts its coordinate at the quantiles of the cumulative probabilities, so value ``k`` is
  drawn with exactly its vocabulary probability. Its code is one slot per value: the value's
  *weight* ``1 ... 1.5`` where ``x`` falls in its bin, 0 elsewhere (a ramp ``1/STEEPNESS``
  wide at each cut);
* a **scalar** nuisance (tilt, light angle, tones...) passes the coordinate through
  (slot ``= x + offset``); the renderer's value is ``lo + (hi - lo) * F(x)``, ``F`` the
  coordinate's own distribution function, so it is uniform on ``[lo, hi]`` as in the renderer.

Any point of W decodes (:meth:`CodeLayout.decode`): a categorical takes its largest slot, a
scalar its slot. The weights make the largest slot unique where two codes are averaged, so the
midpoint of two faces and a truncated face are each one clean face, never a 50/50 ghost.
Truncation towards ``w_avg`` keeps every categorical and pulls the scalars to their medians.

What the generator draws differently from the renderer: no bokeh circles (their positions are
a random seed no code can carry), and a hat and a bow take the same accessory colour index.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from stylepaint.portraits.renderer import NUISANCE_DRAWS
from stylepaint.portraits.vocabulary import load_spec

STEEPNESS = 2000.0          # slope of a categorical's ramp at a cut (in units of x)
WEIGHT_SPREAD = 0.5         # value weights run 1 ... 1 + WEIGHT_SPREAD within a categorical
SQRT2 = math.sqrt(2.0)      # the mapping layers' leaky-ReLU gain
LRELU_SLOPE = 0.2

# discrete nuisances of the renderer that the code carries (name, number of values); a hat and a
# bow share "accessory" (they never appear together)
DISCRETE = ("neckline", "lip_color", "metal", "earring_style", "accessory", "frame_color", "side")


@dataclass(frozen=True)
class Entry:
    """One renderer parameter: the latent coordinate it reads and the W slots it writes."""

    name: str                   # attribute group, or nuisance name
    kind: str                   # "group", "discrete" or "scalar"
    coord: int                  # index into z
    slot: int                   # first W slot
    values: tuple = ()          # categorical values (group values, or 0..n-1)
    probs: tuple = ()           # their probabilities
    cuts: tuple = ()            # n - 1 cut points in x
    weights: tuple = ()         # slot value of each categorical value
    low: float = 0.0            # scalar range
    high: float = 1.0

    @property
    def width(self) -> int:
        return len(self.values) if self.kind != "scalar" else 1


class CoordinateDistribution:
    """The distribution of one coordinate of ``z / rms(z)`` for ``z ~ N(0, I_d)``: density
    proportional to ``(1 - x^2/d)^((d-3)/2)`` on ``|x| < sqrt(d)`` (close to N(0, 1))."""

    def __init__(self, dim: int, points: int = 200_001):
        self.dim = dim
        r = math.sqrt(dim)
        self.x = np.linspace(-r, r, points)
        log_density = 0.5 * (dim - 3) * np.log(np.clip(1.0 - self.x ** 2 / dim, 1e-300, None))
        density = np.exp(log_density - log_density.max())
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(self.x))])
        self.cdf = cdf / cdf[-1]

    def quantile(self, p: float) -> float:
        return float(np.interp(p, self.cdf, self.x))

    def cdf_at(self, x: np.ndarray) -> np.ndarray:
        return np.interp(x, self.x, self.cdf)


class CodeLayout:
    """Which coordinate and W slots each renderer parameter uses; encode, decode, mapping."""

    def __init__(self, z_dim: int = 128, w_dim: int = 128, spec: dict | None = None,
                 spread: dict[str, float] | None = None):
        spec = spec if spec is not None else load_spec()
        self.spec, self.z_dim, self.w_dim = spec, z_dim, w_dim
        # a scalar's slot is spread * x + offset: spread 1 draws the renderer's full range,
        # 0 pins the nuisance to its median (e.g. upright, centred heads while those are learned)
        self.spread = {k: float(v) for k, v in (spread or {}).items()}
        self.coordinate = CoordinateDistribution(z_dim)
        self.offset = math.floor(math.sqrt(z_dim)) + 2.0   # keeps every scalar slot positive
        draws = {name: (kind, arg) for name, kind, arg in NUISANCE_DRAWS}
        counts = {name: arg for name, (kind, arg) in draws.items() if kind == "index"}
        counts["accessory"] = counts["hat_color"]
        entries: list[Entry] = []
        coord = slot = 0

        def categorical(name, kind, values, probs):
            nonlocal coord, slot
            total = float(sum(probs))
            cumulative = np.cumsum(probs)[:-1] / total
            cuts = tuple(self.coordinate.quantile(float(c)) for c in cumulative)
            n = len(values)
            weights = tuple(1.0 + WEIGHT_SPREAD * k / max(n - 1, 1) for k in range(n))
            entries.append(Entry(name, kind, coord, slot, tuple(values), tuple(p / total for p in probs), cuts, weights))
            coord, slot = coord + 1, slot + n

        for group, info in spec["groups"].items():
            values = list(info["values"])
            categorical(group, "group", values, [info["values"][v]["p"] for v in values])
        for name in DISCRETE:
            categorical(name, "discrete", list(range(counts[name])), [1.0] * counts[name])
        scalars = [(k, float(lo), float(hi)) for k, (lo, hi) in spec["nuisances"].items()]
        scalars += [(k, float(a[0]), float(a[1])) for k, (kind, a) in draws.items() if kind == "uniform"]
        for name, lo, hi in scalars:
            entries.append(Entry(name, "scalar", coord, slot, low=lo, high=hi))
            coord, slot = coord + 1, slot + 1
        self.entries = entries
        unknown = sorted(set(self.spread) - {e.name for e in entries if e.kind == "scalar"})
        if unknown:
            raise ValueError(f"spread given for unknown nuisances: {', '.join(unknown)}")
        self.code_dim, self.coords = slot, coord
        self.units = sum(2 * len(e.cuts) if e.kind != "scalar" else 1 for e in entries)
        if self.coords > z_dim or self.code_dim > w_dim:
            raise ValueError(f"the portrait code needs z_dim >= {self.coords} and w_dim >= {self.code_dim}")
        self.groups = {e.name: e for e in entries if e.kind == "group"}

    # ---- the code as a function of x (NumPy reference of what the mapping computes) -----------
    def encode_x(self, x: np.ndarray) -> np.ndarray:
        """``[N, z_dim]`` normalised latents -> ``[N, w_dim]`` codes (float64)."""
        x = np.asarray(x, np.float64)
        w = np.zeros((x.shape[0], self.w_dim))
        for e in self.entries:
            xi = x[:, e.coord]
            if e.kind == "scalar":
                w[:, e.slot] = self.spread.get(e.name, 1.0) * xi + self.offset
                continue
            steps = [np.ones_like(xi)] + [np.clip(STEEPNESS * (xi - t), 0.0, 1.0) for t in e.cuts] + [np.zeros_like(xi)]
            for k, m in enumerate(e.weights):
                w[:, e.slot + k] = m * (steps[k] - steps[k + 1])
        return w

    def encode_z(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, np.float64)
        x = z / np.sqrt(np.mean(z ** 2, axis=1, keepdims=True) + 1e-8)
        return self.encode_x(x)

    def mean_code(self) -> np.ndarray:
        """E[w] over z ~ N(0, I): the generator's ``w_avg`` (ramps of width 1/STEEPNESS ignored)."""
        w = np.zeros(self.w_dim)
        for e in self.entries:
            if e.kind == "scalar":
                w[e.slot] = self.offset
            else:
                w[e.slot:e.slot + e.width] = np.asarray(e.weights) * np.asarray(e.probs)
        return w

    # ---- any point of W -> renderer records ---------------------------------------------------
    def decode(self, w: np.ndarray) -> list[dict]:
        """``[N, >= code_dim]`` codes -> renderer records ``{"attributes", "nuisances"}`` (the
        vocabulary's constraints applied, no bokeh)."""
        w = np.asarray(w, np.float64)
        if w.ndim != 2 or w.shape[1] < self.code_dim:
            raise ValueError(f"codes must be [N, >= {self.code_dim}], got {list(w.shape)}")
        columns: dict[tuple[str, str], list] = {}     # (kind, name): "skin_tone" is a group and a nuisance
        for e in self.entries:
            part = w[:, e.slot:e.slot + e.width]
            if e.kind == "scalar":
                u = self.coordinate.cdf_at(part[:, 0] - self.offset)
                columns[e.kind, e.name] = [float(v) for v in e.low + (e.high - e.low) * u]
            else:
                columns[e.kind, e.name] = [e.values[k] for k in part.argmax(axis=1)]
        records = []
        for i in range(w.shape[0]):
            attrs = {g: columns["group", g][i] for g in self.groups}
            for rule in self.spec.get("constraints", []):
                if all(attrs[g] == v for g, v in rule["when"].items()):
                    attrs.update(rule["force"])
            nuis = {e.name: columns["scalar", e.name][i] for e in self.entries if e.kind == "scalar"}
            for name in DISCRETE:
                nuis[name] = int(columns["discrete", name][i])
            nuis["side"] = nuis["side"] * 2 - 1
            accessory = nuis.pop("accessory")
            nuis.update(hat_color=accessory, bow_color=accessory, bokeh=0, bokeh_seed=0)
            records.append({"attributes": attrs, "nuisances": nuis})
        return records

    # ---- tags -> latents ------------------------------------------------------------------------
    def z_for(self, fixed: dict[str, str], z: np.ndarray) -> np.ndarray:
        """``z`` with the coordinates of the groups in ``fixed`` (group -> value) moved into the
        middle of that value's bin (and rescaled so ``rms(z)`` is unchanged): faces with those
        attributes, the rest as drawn."""
        z = np.array(z, np.float64, ndmin=2)
        rms = np.sqrt(np.mean(z ** 2, axis=1, keepdims=True))
        x = z / rms
        for group, value in fixed.items():
            e = self.groups.get(group)
            if e is None:
                raise ValueError(f"unknown attribute group {group!r}; known: {', '.join(self.groups)}")
            if value not in e.values:
                raise ValueError(f"{group} has no value {value!r}; it has {', '.join(e.values)}")
            k = e.values.index(value)
            lo = sum(e.probs[:k])
            x[:, e.coord] = self.coordinate.quantile(lo + e.probs[k] / 2)
        x *= np.sqrt(self.z_dim / np.sum(x ** 2, axis=1, keepdims=True))   # rms 1 again
        return x * rms

    # ---- the mapping network that computes encode ----------------------------------------------
    def mapping_weights(self, num_layers: int, layer_features: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Effective ``(weight [out, in], bias [out])`` of each mapping layer such that
        ``out = sqrt(2) * lrelu(weight @ in + bias)`` (StyleGAN2's layer) computes
        :meth:`encode_x` exactly (up to float rounding)."""
        if num_layers < 2:
            raise ValueError("the portrait code needs at least 2 mapping layers")
        if self.units > layer_features:
            raise ValueError(f"the portrait code needs {self.units} units in the first mapping layer, "
                             f"the network has {layer_features}")
        hidden = layer_features if num_layers > 2 else self.w_dim
        w0, b0 = np.zeros((layer_features, self.z_dim)), np.zeros(layer_features)
        w1, b1 = np.zeros((hidden, layer_features)), np.zeros(hidden)
        unit = 0
        for e in self.entries:
            if e.kind == "scalar":                  # h = sqrt2 * (x + offset) > 0
                w0[unit, e.coord], b0[unit] = self.spread.get(e.name, 1.0), self.offset
                w1[e.slot, unit] = 0.5              # out = sqrt2 * h / 2 = x + offset
                unit += 1
                continue
            # step_j = clamp(S (x - t_j), 0, 1) = (h_a - h_b) / (0.8 sqrt2) - 0.25, with
            # h_a = sqrt2 lrelu(S (x - t_j)), h_b = sqrt2 lrelu(S (x - t_j) - 1)
            step_units = []
            for t in e.cuts:
                w0[unit, e.coord], b0[unit] = STEEPNESS, -STEEPNESS * t
                w0[unit + 1, e.coord], b0[unit + 1] = STEEPNESS, -STEEPNESS * t - 1.0
                step_units.append((unit, unit + 1))
                unit += 2
            for k, m in enumerate(e.weights):       # slot k = m (step_k - step_{k+1}), step_0 = 1
                row, gain = e.slot + k, m / SQRT2
                for j, sign in ((k, 1.0), (k + 1, -1.0)):
                    if j == 0:
                        b1[row] += gain * sign
                    elif j <= len(e.cuts):
                        a, b = step_units[j - 1]
                        w1[row, a] += gain * sign / (0.8 * SQRT2)
                        w1[row, b] -= gain * sign / (0.8 * SQRT2)
                        b1[row] -= gain * sign * 0.25
        layers = [(w0, b0), (w1, b1)]
        for i in range(2, num_layers):
            out = self.w_dim if i == num_layers - 1 else layer_features
            layers.append((np.eye(out, hidden) / SQRT2, np.zeros(out)))
            hidden = out
        return layers


@functools.lru_cache(maxsize=8)
def _layout(z_dim: int, w_dim: int, spread: tuple) -> CodeLayout:
    return CodeLayout(z_dim, w_dim, spread=dict(spread))


def layout(z_dim: int = 128, w_dim: int = 128, spread: dict[str, float] | None = None) -> CodeLayout:
    """The code layout of the portrait vocabulary for a generator's z and w sizes (cached)."""
    return _layout(z_dim, w_dim, tuple(sorted((spread or {}).items())))


def write_mapping(G, spread: dict[str, float] | None = None) -> CodeLayout:
    """Set ``G``'s mapping network (StyleGAN2 layers, any lr multiplier) to compute the portrait
    code, and its ``w_avg`` to the mean code. Returns the layout."""
    import torch

    m = G.mapping
    first = m.fc0
    code = layout(m.z_dim, m.w_dim, spread)
    layers = code.mapping_weights(m.num_layers, first.weight.shape[0])
    with torch.no_grad():
        for i, (weight, bias) in enumerate(layers):
            fc = getattr(m, f"fc{i}")
            if tuple(fc.weight.shape) != weight.shape:
                raise ValueError(f"mapping layer fc{i} is {list(fc.weight.shape)}, the code needs {list(weight.shape)}")
            fc.weight.copy_(torch.from_numpy(weight / fc.weight_gain))
            fc.bias.copy_(torch.from_numpy(bias / fc.bias_gain))
        m.w_avg.copy_(torch.from_numpy(code.mean_code()))
    m.requires_grad_(False)
    return code
