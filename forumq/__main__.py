from forumq.cli import main

main()
