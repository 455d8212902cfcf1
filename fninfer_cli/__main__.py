from fninfer_cli.main import main

main()
