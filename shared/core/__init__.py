"""Infrastructure: storage, layout, errors, settings, and the helpers every other part of the domain uses."""
