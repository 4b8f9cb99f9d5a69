from forumq.cli import app

app(prog_name="forumq")
