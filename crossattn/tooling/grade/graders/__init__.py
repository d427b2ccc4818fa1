"""The graders of labs 3, 4, 6, 7, 8, 9, 10 and 11, one module each (labs 1, 2 and 5 are in :mod:`..exercises`).

Each module defines ``GRADERS`` (exercise function -> grader) and ``NEEDS`` (what its child imports and
which package parts it gets); :mod:`crossattn.tooling.grade.exercises` registers them.
"""
