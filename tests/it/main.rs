mod poller;
