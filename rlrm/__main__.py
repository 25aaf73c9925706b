from rlrm.cli import main

raise SystemExit(main())
