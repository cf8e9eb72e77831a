from fangzhou.cli import main

raise SystemExit(main())
