"""Test isolation: only this repository's plugins load, whatever else is installed."""

import os

IN_REPO_PLUGINS = "denoise,deblur,sharpen,inpaint,colorize,dejpeg,superres"

os.environ["RESTORE_PLUGINS"] = IN_REPO_PLUGINS
os.environ.pop("RESTORE_DISABLE_PLUGINS", None)
