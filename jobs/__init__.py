"""Spark jobs: thin entry points around pure DataFrame -> DataFrame transforms."""
