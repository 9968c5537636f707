"""Parts of the demo testbed, one module each, named in an environment's ``testbed.start``.

Each module has ``start(spec, running)``: it starts its servers, registers their stoppers on
``running`` and adds the variables the environment file refers to.
"""
