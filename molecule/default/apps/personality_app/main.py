"""The default scenario's python_app: an entry script that imports a sibling
module (app_settings), a dependency installed into the virtualenv from the
controller's wheelhouse (alicia_demo_dep) and, as its service logic, the
collection's reference service (copied into the application directory by
converge.yml), so it honours the whole Alicia service contract."""

import alicia_demo_dep
import alicia_reference_service
import app_settings

if __name__ == "__main__":
    app_settings.announce(alicia_demo_dep.VERSION)
    alicia_reference_service.main()
