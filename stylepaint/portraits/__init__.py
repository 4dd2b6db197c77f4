"""The procedural portrait domain: vocabulary, renderer, captions, attribute oracle, small CLIP."""
