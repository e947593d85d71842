"""uWSGI's entry module (``--module prefork_lab_uwsgi``), copied into each run directory beside the wrapper.

Standalone: standard library, ``uwsgidecorators`` and the wrapper only. When the app is preloaded, uWSGI imports
this module in the master and runs the post-fork hook in each worker, just before it accepts; with
``--lazy-apps`` each worker imports it after fork, so it loads and reports readiness in line.
"""

import prefork_lab_wrapper as wrapper

if wrapper.PRELOAD:
    application = wrapper.create_app()

    import uwsgidecorators

    @uwsgidecorators.postfork
    def _after_fork():
        wrapper.worker_forked()
        wrapper.worker_ready()

else:
    wrapper.worker_forked()
    application = wrapper.create_app()
    wrapper.worker_ready()
