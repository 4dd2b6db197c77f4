"""Real photos: load, find and align the face, invert it into the generator, paste edits back.

``pipeline.invert_photo`` (a progress generator) and ``pipeline.edit_photo`` are the entry
points the CLI and the GUI use; the modules beside them each do one step.
"""
