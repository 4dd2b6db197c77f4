"""stylepaint: text-driven StyleGAN2 editing.

Public API::

    G = stylepaint.load_generator(path, device="cpu")
    ws = G.mapping(z, truncation_psi=1.0)
    styles = G.styles(ws)
    img = G.synthesis(ws, noise_mode="const")
    img = G.synthesis_from_styles(styles, noise_mode="const")
"""

__version__ = "0.1.0"


def load_generator(path=None, device="cpu"):
    """Load a StyleGAN2 generator from an official pickle, a rosinality .pt or stylepaint's own file."""
    from stylepaint.engine.checkpoints import load_generator as _load

    return _load(path, device)


__all__ = ["load_generator", "__version__"]
