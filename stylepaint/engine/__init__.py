"""The engine: generator, checkpoint formats, latent spaces, blending, rendering. No Qt here."""
