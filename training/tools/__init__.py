"""Tools that make the project's data (not experiments): ``axial_annotate`` builds the axial disc masks of
annotations/mendeley-axial from its spec.json; ``make_semisynthetic_axial`` writes the semi-synthetic axial classifier
data set (real slices with inserted pathology). Run as ``training/.venv/bin/python -m training.tools.<name> ...``."""
