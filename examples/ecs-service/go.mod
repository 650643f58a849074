module example.com/ecs-service

go 1.24
