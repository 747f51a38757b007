"""The examples run with the sandbox's own test suite, except the Django project: it has its
own pytest settings (a configured Django would follow every other test of the run), so
tests/test_examples.py runs it as a pytest run of its own."""

collect_ignore = ["django_signup"]
