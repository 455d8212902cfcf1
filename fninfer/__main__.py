from fninfer.cli import main

main()
