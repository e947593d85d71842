"""``run-experiments advise PROJECT``: measure a project in every loading mode and tell its operator what to deploy.

One file per noun, data flowing one way:

- ``options`` and ``plan``: the command line checked into a request, and the two sweeps it runs through the lab's
  runner: every mode at a few worker counts to steady state, then a lifecycle window of long traffic per mode;
- ``run``: what is checked before anything runs (server, output, the project loaded and its URLs), then the sweeps;
- ``figures``: CSV rows → per-mode figures with 95 % intervals (pure);
- ``recommend``: figures + budget → the mode, the workers that fit, max_requests, database connections, what the
  project must change (pure);
- ``configs``: the advice → files to paste (Jinja2 templates in ``templates/``), written without overwriting a
  user's file (``directory``);
- ``verify``: those files under the real server, not the lab's wrapper, measured from /proc as the lab measures;
- ``answer``: recommendation, files, verification and report, in that order;
- ``screen`` and ``report``: the one-screen answer (lines) and the markdown report with its plot.

Only ``cli`` prints.
"""
