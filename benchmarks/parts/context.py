"""What the parts share during one run: options, results, and the state of the lab they created."""

from . import lab


class Context:
    def __init__(self, results, runs, quick, keep_lab=False):
        self.results = results
        self.runs = runs
        self.quick = quick
        self.keep_lab = keep_lab
        # Lab hosts this run deployed site.yml on: None, or their count; "extra" once growth added services.
        self.deployed = None
        self.lab_used = False

    def repetitions(self):
        return 1 if self.quick else self.runs

    def ensure_deployed(self, hosts=1):
        """A lab of `hosts` hosts with the platform deployed (the shipped catalogue): reuses this run's."""
        if self.deployed == hosts:
            return
        self.lab_used = True
        lab.fresh(hosts)
        lab.run_playbook("deploy-%d" % hosts)
        self.deployed = hosts
