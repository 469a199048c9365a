"""Sign-in, roles and permissions: who may do what (issue 7).

``roles`` says what each role may do, ``secrets`` makes and checks passwords and tokens, ``throttle`` slows
password guessing, ``accounts`` creates users and tokens (API, CLI and first start share it), and ``guard``
is the dependency every route states its permission with.
"""
