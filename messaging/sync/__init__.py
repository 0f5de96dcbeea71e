"""Keeping local mirrored objects and the provider's in step: one machinery for every entity.

`resources.py` describes each entity once (`MirrorResource`), `push.py` makes the provider
agree with a local row, `pull.py` makes local rows agree with the provider.
"""
