"""The consumer channel: a receipt holder's view of their payment and what they may do.

``service`` holds the functions (their stable signatures are listed in its
docstring), ``views`` the public shapes they return, ``access`` the way to open a
unit of work as a receipt holder. Used by the receipt page (``qrefund.portal``) and
the public GraphQL fields alike, so both show and allow exactly the same things.
"""
