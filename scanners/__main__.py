from scanners.cli import main

raise SystemExit(main())
