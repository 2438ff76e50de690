"""salad-sd: Stable Diffusion (AUTOMATIC1111, API mode) on SaladCloud. Config → image → container group."""

import pulumi

from components.program.deployment import A1111Deployment
from components.program.wiring import deployment_args, read_stack_config

config = read_stack_config()
app = A1111Deployment("salad-sd", deployment_args(config))

pulumi.export("url", app.url)
pulumi.export("containerGroup", app.container_group_name)
pulumi.export("containerGroupId", app.container_group_id)
pulumi.export("image", app.image_ref)
pulumi.export("readyReplicas", app.ready_replicas)
pulumi.export("estimatedCostPerHour", app.estimated_cost_per_hour)
pulumi.export("exampleRequest", app.example_request)
pulumi.export("queue", app.queue_name)
