"""Course tooling for authors and instructors — never imported by a lab or by the rest of the package.

labs (run a lab, its setup cell and tags), student (student versions), nbgrader_course (an
nbgrader course), lab_times (measured lab times), guide (the instructor guide), book (the Sphinx
extension of the website), reproduce (stored experiment results). It needs the ``tooling``
extra: ``pip install "crossattn[tooling]"``.
"""
