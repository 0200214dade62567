"""Tasks: the Task protocol (base.py), built-in tasks and their catalog YAML files."""

from optbasin.tasks.base import Task

__all__ = ["Task"]
