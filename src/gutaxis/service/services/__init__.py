"""The service layer: what the pages and the API both call.

Each function takes a database session (the caller's transaction), the
:class:`~gutaxis.service.access.Principal` acting, and plain values; it
queries only within the principal's clinic (another clinic's object is
:class:`~gutaxis.service.errors.NotFound`), records what it read or changed
in the audit log, and returns model objects or plain data.  Heavy work is
queued as a job (:mod:`gutaxis.service.jobs`), never done here.

- :mod:`.accounts`: clinics, users, sessions, tokens, invitations, second factor
- :mod:`.patients`: patients and visits
- :mod:`.uploads`: files received for a visit
- :mod:`.profiles`: profiles, references and the timeline
- :mod:`.plans`: the patient's plan and its history
- :mod:`.records`: export, erasure and the audit log
"""
