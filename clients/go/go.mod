module convokit-chat

go 1.19
