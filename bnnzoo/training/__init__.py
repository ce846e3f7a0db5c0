"""Training: recipes, datasets, the fit loop and callbacks (issue 5; not built yet)."""
