"""The bundled example study (read it with :func:`gutaxis.io.read_example`)."""
